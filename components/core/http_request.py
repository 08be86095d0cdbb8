"""HttpRequest: any REST API, called through the connector SDK's :class:`ServiceClient`.

The flow chooses the service (``auth``); the call gets that service's quota, circuit and
credentials (an account's token, refreshed once on a 401, or a header secret) and the
default error table's retry classes. Which answer goes where:

- a 2xx, or a status of ``successStatuses``: ``out`` as ``{status, headers, body}``;
- a 3xx that is not followed, or a 4xx the table does not retry (400, 403, 404, 422...):
  ``error`` as ``{status, headers, body, input}`` when ``error`` is wired, else the dead letters;
- 408, 409, 5xx and no answer: retried with the flow's backoff; 429: waited out as the
  service says (``Retry-After``); 401 after one refresh: the flow pauses for a new login.

Redirects are followed by aiohttp only when the credential travels in ``Authorization``
(which aiohttp drops on a redirect to another host); a header secret in any other header is
never sent after a redirect, so the 3xx itself is the answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from components.core.http_template import Template, compile_value, fill_url, fill_value
from runtime.component import Component
from runtime.connector import (
    ApiResponse,
    Connector,
    InputError,
    ServiceClient,
    ServiceError,
    api_base_for,
)
from runtime.errors import CancelError
from runtime.retry import next_step

if TYPE_CHECKING:
    from runtime.component import Context

_NO_BODY: Final = object()
_SUCCESS: Final = frozenset(range(200, 300))


class AnswerError(ServiceError, CancelError):
    """An answer the component cannot pass on (not JSON when JSON was asked for, or a
    redirect it does not follow); it keeps the answer as ``response``."""


class HttpRequest(Component):
    """One request per message, shaped by the properties, filled from the message."""

    async def start(self, context: Context) -> None:
        p = context.properties
        self._method: str = p.get("method", "GET")
        self._url = Template.parse(p["url"])
        self._query = compile_value(p.get("query") or {})
        self._headers = {name: Template.parse(v) for name, v in (p.get("headers") or {}).items()}
        self._body = compile_value(p["body"]) if "body" in p else _NO_BODY
        self._form = compile_value(p["form"]) if "form" in p else None
        self._json = p.get("responseType", "json") == "json"
        self._success = _SUCCESS | frozenset(p.get("successStatuses") or ())
        self._timeout = float(p.get("timeout", 30))
        self._max_bytes = int(p.get("maxResponseBytes", 10 * 1024 * 1024))
        resource = p.get("quota")
        category = None if resource is None else (lambda method, path: resource)
        auth = context.auth
        absolute = p["url"].startswith(("http://", "https://"))
        self._base = ""  # an absolute URL needs none
        if auth is None:  # validation allows only an absolute URL, whose host is fixed
            host = urlsplit(p["url"]).netloc
            self._connector = Connector(f"http:{host}", host, category=category)
        else:
            self._connector = Connector(auth.service, auth.service, category=category)
            if not absolute:
                self._base = api_base_for(self._connector, getattr(auth, "settings", None))
        # the header the credential travels in, lowercased ("" without credentials)
        header = "" if auth is None else getattr(auth, "header_name", None) or "Authorization"
        self._credential_header = header.lower()

    async def receive(self, context: Context) -> None:
        message = context.message
        url = fill_url(self._url, message)
        client = ServiceClient(
            context.http,
            self._connector,
            context.auth,
            api_base=self._base,
            timeout=self._timeout,
            logger=context.log,
            telemetry=context.telemetry,
            quotas=context.quotas,
            circuits=context.circuits,
        )
        try:
            answer = await client.request(
                self._method,
                url,
                params=self._params(message),
                json=None if self._body is _NO_BODY else fill_value(self._body, message),
                data=None if self._form is None else self._form_data(message),
                headers=self._headers_for(message),
                expect_json=False,
                # aiohttp drops only Authorization on a redirect to another host
                allow_redirects=self._credential_header in ("", "authorization"),
                max_bytes=self._max_bytes,
            )
        except ServiceError as exc:
            if exc.response is None or exc.response.status not in self._success:
                await self._failed(context, exc, message)
                return
            answer = exc.response
        if answer.status not in self._success:  # a 3xx not followed
            error = AnswerError(
                f"{self._method} {urlsplit(url).path}: answered HTTP {answer.status}, a"
                " redirect that is not followed (list the status in successStatuses to take it"
                " as the answer)",
                status=answer.status,
                response=answer,
            )
            await self._failed(context, error, message)
            return
        await context.send(
            {"status": answer.status, "headers": answer.headers, "body": self._parsed(answer)}
        )

    def _params(self, message: Any) -> dict[str, Any]:
        filled = fill_value(self._query, message)
        return {key: value for key, value in filled.items() if value is not None}

    def _form_data(self, message: Any) -> dict[str, str]:
        filled = fill_value(self._form, message)
        return {k: _form_text(v) for k, v in filled.items() if v is not None}

    def _headers_for(self, message: Any) -> dict[str, str]:
        headers: dict[str, str] = {}
        for name, template in self._headers.items():
            if name.lower() == self._credential_header:  # the credential's header is the call's
                continue
            value = template.value(message)
            if value is None:
                continue
            text = value if isinstance(value, str) else template.render(message)
            if "\r" in text or "\n" in text:
                raise InputError(f"headers.{name}", "a header value must be one line of text")
            headers[name] = text
        return headers

    def _parsed(self, answer: ApiResponse) -> Any:
        if not self._json:
            return answer.text
        if answer.body is None and answer.text.strip():
            raise AnswerError(
                f"answered HTTP {answer.status} with a body that is not JSON (set responseType"
                " to text to take it as text)",
                status=answer.status,
                response=answer,
            )
        return answer.body

    async def _failed(self, context: Context, exc: ServiceError, message: Any) -> None:
        """Send an error answer to ``error`` when it is wired and the error is final."""
        answer = exc.response
        if answer is None or next_step(exc) != "dead-letter" or not context.wired("error"):
            raise exc
        body = answer.body if self._json and answer.body is not None else answer.text or None
        await context.send(
            {"status": answer.status, "headers": answer.headers, "body": body, "input": message},
            "error",
        )


def _form_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)
