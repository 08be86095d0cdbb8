"""Removing secrets from data and text before it is logged, stored or shown.

Keys are judged by :func:`is_secret_key`; text by :func:`redact_text`, which hides bearer and
basic credentials, passwords in URLs and ``key=value`` pairs whose key is secret. Used by the
log processors and by anything that keeps an error message (dead letters).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

REDACTED: Final = "***"


# Substrings of a normalised key that mark its value secret.
_SECRET_PARTS: Final = (
    "token",
    "secret",
    "password",
    "passwd",
    "authorization",
    "auth_code",
    "api_key",
    "apikey",
    "cookie",
    "private_key",
    "credential",
    "code_verifier",
)
# ``*_code`` keys that name a status, an error or a standard code, never a credential.
_PLAIN_CODES: Final = frozenset(
    {
        "status_code",
        "http_code",
        "response_code",
        "error_code",
        "exit_code",
        "return_code",
        "reason_code",
        "result_code",
        "country_code",
        "currency_code",
        "language_code",
        "locale_code",
        "region_code",
        "postal_code",
        "zip_code",
    }
)
_MAX_DEPTH: Final = 32

_WORD_START = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_USERINFO = re.compile(r"(?<=://)([^/\s:@]*):[^/\s@]+@")
_CREDENTIAL = re.compile(r"\b(Bearer|Basic)\s+([A-Za-z0-9._~+/-]+=*)", re.IGNORECASE)
# Pairs inside free text: name=value, name: value, name='value', "name": "value" (also with
# backslash-escaped quotes, as in JSON inside a string). A colon counts only before a space or
# a quote, so "https://" is no pair; bare values stop at URL and bracket punctuation, so a
# pair inside a URL or a repr is still found.
_ASSIGNMENT = re.compile(
    r"(?P<name_quote>\\?[\"']?)(?P<name>[A-Za-z_][A-Za-z0-9_.-]*)(?P=name_quote)"
    r"(?P<eq>\s*=\s*|:\s+|:(?=\\?[\"']))"
    r"(?:(?P<quote>\\?[\"'])(?P<quoted>.*?)(?:(?P=quote)|$)|(?P<bare>[^\s&#;,'\"\\()\[\]{}<>?=]+))"
)
_LITERALS: Final = frozenset({"null", "true", "false", "None", "True", "False"})


def is_secret_key(key: str, value: Any = None) -> bool:
    """Whether the value logged under ``key`` must be hidden.

    The key is normalised first: camelCase, dashes and spaces become snake_case, lower case
    (``clientSecret`` -> ``client_secret``, ``X-Api-Key`` -> ``x_api_key``). It is secret when

    * it contains ``token``, ``secret``, ``password``, ``passwd``, ``authorization``,
      ``auth_code``, ``api_key``, ``apikey``, ``cookie``, ``private_key``, ``credential`` or
      ``code_verifier`` (so also ``access_token``, ``refresh_token``, ``client_secret``,
      ``set_cookie``), or is exactly ``auth``; or
    * it is ``code`` or ends in ``_code`` (``authCode``, ``verification_code``), unless the
      value is a number or the key is a known plain code such as ``status_code``,
      ``error_code``, ``exit_code`` or ``country_code``: OAuth codes are text, while HTTP
      statuses and error numbers are worth keeping in logs.
    """
    name = _WORD_START.sub("_", key).replace("-", "_").replace(" ", "_").lower()
    if name == "auth" or any(part in name for part in _SECRET_PARTS):
        return True
    if name != "code" and not name.endswith("_code"):
        return False
    return name not in _PLAIN_CODES and not isinstance(value, (int, float))


def _bare_value(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text


def _hide_assignment(match: re.Match[str]) -> str:
    quote, bare = match["quote"], match["bare"]
    value = _bare_value(bare) if quote is None else match["quoted"]
    if not value or bare in _LITERALS or not is_secret_key(match["name"], value):
        return match[0]
    head = match.string[match.start() : match.end("eq")]
    closing = quote if quote is not None and match[0].endswith(quote) else ""
    return f"{head}{quote or ''}{REDACTED}{closing}"


def _hide_credential(match: re.Match[str]) -> str:
    scheme, credential = match[1], match[2]
    # "Basic" also starts prose ("Basic setup"): a plain lower-case word is no base64 credential.
    if scheme.lower() == "basic" and credential[1:].isalpha() and credential[1:].islower():
        return match[0]
    return f"{scheme} {REDACTED}"


def redact_text(text: str) -> str:
    """``text`` with credentials hidden: ``Bearer``/``Basic`` values, passwords in URLs
    (``redis://:***@host``) and secret ``name=value`` pairs.

    Pairs are judged by :func:`is_secret_key`, so ``?code=abc&state=x`` becomes
    ``?code=***&state=x`` and ``"access_token": "abc"`` in a logged response body becomes
    ``"access_token": "***"``. After ``Basic``, a lower-case word ("Basic setup") is kept.
    """
    if "://" in text:
        text = _USERINFO.sub(rf"\1:{REDACTED}@", text)
    if " " in text or "\t" in text:
        text = _CREDENTIAL.sub(_hide_credential, text)
    if "=" in text or ":" in text:
        text = _ASSIGNMENT.sub(_hide_assignment, text)
    return text


def _redact_item(key: Any, value: Any, depth: int) -> Any:
    if value is not None and isinstance(key, str) and is_secret_key(key, value):
        return REDACTED
    return _redact(value, depth)


def _redact(value: Any, depth: int) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if not isinstance(value, (Mapping, list, tuple, set, frozenset)):
        return value
    if depth >= _MAX_DEPTH:
        return "<nested too deep to log>"
    if isinstance(value, Mapping):
        return {key: _redact_item(key, item, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [_redact(item, depth + 1) for item in value]
    if isinstance(value, tuple):
        return tuple(_redact(item, depth + 1) for item in value)
    return type(value)(_redact(item, depth + 1) for item in value)


def redact(value: Any) -> Any:
    """A copy of ``value`` (any nesting of dicts, lists, tuples, sets) with secrets hidden."""
    return _redact(value, 0)


def redact_mapping(data: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``data`` whose secret keys (at any depth) have their values hidden."""
    return {key: _redact_item(key, value, 0) for key, value in data.items()}


def scrub_objects(value: Any, depth: int) -> Any:
    if isinstance(value, (str, int, float, type(None))):
        return value
    if isinstance(value, (Mapping, list, tuple, set, frozenset)) and depth < _MAX_DEPTH:
        if isinstance(value, Mapping):
            return {key: scrub_objects(item, depth + 1) for key, item in value.items()}
        return [scrub_objects(item, depth + 1) for item in value]
    return redact_text(repr(value))
