"""``flowmixer deploy FLOW.json [--start] [--server URL]``: deploy to a running server.

Talks to the server's admin API (``POST /api/flows``, then ``/api/flows/{id}/start`` with
``--start``) with the token in ``FLOWMIXER_ADMIN_TOKEN``; the server is ``--server``, else
``FLOWMIXER_SERVER``, else ``http://127.0.0.1:8080``. Prints each webhook's URL and, for hooks
new in this deployment, its secret: the only time it is shown. Problems the server finds are
printed by JSON path (exit 1); a server that cannot be reached is one line (exit 1).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, urlsplit

import aiohttp

from runtime import json_limits
from runtime.cli.usage import UsageError
from runtime.errors import ConfigurationError, FlowValidationError, Problem

if TYPE_CHECKING:
    import argparse

    from runtime.settings import Settings

DEFAULT_SERVER: Final = "http://127.0.0.1:8080"
TOKEN_VAR: Final = "FLOWMIXER_ADMIN_TOKEN"
SERVER_VAR: Final = "FLOWMIXER_SERVER"
# A big flow takes the server a few seconds to check; connecting should be instant.
TIMEOUT: Final = aiohttp.ClientTimeout(total=120, sock_connect=10)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    deploy = commands.add_parser(
        "deploy",
        help="deploy a flow to a running server (flowmixer serve) through its admin API",
        description="Send FLOW.json to a running server's admin API, with the token in"
        f" {TOKEN_VAR}, and print each webhook's URL and secret (secrets are shown once,"
        " for hooks new in this deployment). A flow the server refuses is printed problem"
        " by problem, by JSON path (exit 1). A running flow must be stopped before it is"
        " deployed again.",
    )
    deploy.add_argument("flow", type=Path, metavar="FLOW.json")
    deploy.add_argument("--start", action="store_true", help="start the flow once deployed")
    deploy.add_argument(
        "--server",
        metavar="URL",
        help=f"the server's base URL (default: ${SERVER_VAR}, else {DEFAULT_SERVER})",
    )
    deploy.add_argument(
        "--json", action="store_true", help="print the server's answer as one JSON object"
    )
    deploy.set_defaults(handler=cmd_deploy)


def server_url(given: str | None) -> str:
    """The server's base URL, checked: ``http(s)://host[:port]``, no trailing slash."""
    url = (given or os.environ.get(SERVER_VAR) or DEFAULT_SERVER).rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        where = "--server" if given else SERVER_VAR
        raise UsageError(f"{where} {url!r}: expected a URL such as {DEFAULT_SERVER}")
    return url


def _read_flow(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise FlowValidationError(str(path), [Problem("$", f"cannot be read: {reason}")]) from None
    try:
        return json_limits.loads(text)
    except json.JSONDecodeError as exc:
        problem = Problem("$", f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
        raise FlowValidationError(str(path), [problem]) from None
    except json_limits.JSONLimitError as exc:
        raise FlowValidationError(str(path), [Problem("$", str(exc))]) from None


class _Admin:
    """The admin API of one server; every refusal becomes a :class:`ConfigurationError`."""

    def __init__(self, session: aiohttp.ClientSession, url: str, token: str) -> None:
        self.session = session
        self.url = url
        self.headers = {"Authorization": f"Bearer {token}"}

    async def call(self, method: str, path: str, body: Any, source: str) -> dict[str, Any]:
        try:
            async with self.session.request(
                method, self.url + path, json=body, headers=self.headers
            ) as response:
                try:
                    answer = await response.json(content_type=None)
                except (json.JSONDecodeError, aiohttp.ContentTypeError):
                    answer = None
                status = response.status
        except aiohttp.ClientConnectionError as exc:
            raise ConfigurationError(
                f"cannot reach the server at {self.url} ({_reason(exc)}); is `flowmixer serve`"
                f" running there? (--server or {SERVER_VAR} name another)"
            ) from None
        except TimeoutError:
            raise ConfigurationError(f"the server at {self.url} did not answer in time") from None
        if not isinstance(answer, dict):
            raise ConfigurationError(
                f"{self.url} answered {status} without a JSON object: is it a flowmixer server?"
            )
        if status < 400:
            return answer
        raise _refusal(status, answer, source)


def _reason(exc: aiohttp.ClientConnectionError) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError):
        return exc.os_error.strerror or str(exc.os_error)
    return type(exc).__name__


def _refusal(status: int, answer: dict[str, Any], source: str) -> ConfigurationError:
    message = str(answer.get("error") or f"HTTP {status}")
    problems = answer.get("problems")
    if status == 422 and isinstance(problems, list) and problems:
        return FlowValidationError(
            source,
            [Problem(str(p.get("path", "$")), str(p.get("message", ""))) for p in problems],
        )
    if status == 401:
        return ConfigurationError(f"the server refused the admin token in {TOKEN_VAR}")
    return ConfigurationError(f"the server refused: {message}")


def _print_deployed(answer: dict[str, Any], started: bool) -> None:
    flow_id = answer.get("id")
    print(f"Deployed flow {flow_id!r}" + (" and started it" if started else ""))
    for hook in answer.get("hooks", []):
        secret = hook.get("secret")
        shown = secret if secret else "(unchanged: shown when the hook was first deployed)"
        print(f"  hook {hook.get('component')}  {hook.get('url')}")
        print(f"    secret {shown}")
    if any(hook.get("secret") for hook in answer.get("hooks", [])):
        print(
            "Keep the secrets now: they are not shown again. Send them in the"
            " X-Flowmixer-Hook-Secret header."
        )
    if not started:
        print(f"Not started: deploy with --start, or POST /api/flows/{flow_id}/start")


def cmd_deploy(args: argparse.Namespace, settings: Settings) -> int:
    url = server_url(args.server)
    token = os.environ.get(TOKEN_VAR)
    if not token:
        raise ConfigurationError(
            f"{TOKEN_VAR} is not set: set it to the admin token the server was started with"
        )
    flow = _read_flow(args.flow)
    source = str(args.flow)

    async def main() -> dict[str, Any]:
        async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
            admin = _Admin(session, url, token)
            answer = await admin.call("POST", "/api/flows", flow, source)
            if args.start:
                flow_id = quote(str(answer.get("id")), safe="")
                started = await admin.call("POST", f"/api/flows/{flow_id}/start", None, source)
                answer = {**answer, "status": started.get("status", "running")}
            return answer

    answer = asyncio.run(main())
    if args.json:
        print(json.dumps(answer))
    else:
        _print_deployed(answer, args.start)
    sys.stdout.flush()
    return 0
