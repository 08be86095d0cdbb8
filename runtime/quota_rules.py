"""Where quota rules come from: the service manifests, overridden by the app configuration.

A service's ``quota`` rules in ``service.json`` are its defaults. The app configuration key
``quota`` (``flowmixer config set acme:pinterest quota=...``, or the environment variable
``FLOWMIXER_PINTEREST_QUOTA``) overrides them, in one of two forms:

- compact: ``org_write=10/60, org_read=1000/86400/app``, each item
  ``resource=limit/window[/scope]`` (window in seconds, scope ``account`` when left out);
- JSON, an object by resource: ``{"org_write": {"limit": 10, "window": 60, "maxWait": 30}}``
  (a resource's value may also be a list of such rules), or a list of rules as in
  ``service.json``: ``[{"resource": "org_write", "limit": 10, "window": 60}]``.

A resource named in the override loses all its default rules to the override's; the other
defaults stay. Only resources the service's rules name (or ``*``, every call) are accepted, so
that a misspelt category is refused rather than silently not limited.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import TYPE_CHECKING, Any, Final

from pydantic import ValidationError

from runtime.auth.app_config import env_var
from runtime.errors import ConfigurationError
from runtime.manifest import EVERY_CALL, QuotaRule, ServiceManifest
from runtime.mapping import json_path
from runtime.problems import did_you_mean, parse_json, pydantic_problems

if TYPE_CHECKING:
    from runtime.auth.app_config import AppConfigStore

QUOTA_KEY: Final = "quota"
"""The app configuration key that overrides a service's quota rules."""

_FORM = (
    'write it as resource=limit/window[/scope] items separated by commas (e.g. "org_write=10/60,'
    ' org_read=1000/86400/app"), as a JSON object by resource (e.g. {"org_write": {"limit": 10,'
    ' "window": 60}}) or as a JSON list of rules like those of service.json'
)


def parse_override(
    text: str, *, service: str, resources: Iterable[str] = ()
) -> tuple[QuotaRule, ...]:
    """The rules of an override; :class:`ConfigurationError` naming the item and the problem.

    ``resources`` are those the service's rules name; when given, others are refused.
    """
    text = text.strip()
    where = f"{service} {QUOTA_KEY}"
    if not text:
        raise ConfigurationError(f"{where}: the value is empty; {_FORM}")
    if text.startswith(("[", "{")):
        rules = _from_json(text, where)
    else:
        rules = tuple(_from_item(item.strip(), where) for item in text.split(",") if item.strip())
    known = sorted({*resources, EVERY_CALL})
    for rule in rules if resources else ():
        if rule.resource not in known:
            raise ConfigurationError(
                f'{where}: "{rule.resource}" is not a quota resource of {service}; its'
                f" resources are: {', '.join(known)}{did_you_mean(rule.resource, known)}"
            )
    return rules


def _from_item(item: str, where: str) -> QuotaRule:
    resource, equals, rest = item.partition("=")
    parts = rest.split("/")
    if not equals or len(parts) not in (2, 3):
        raise ConfigurationError(f'{where}: "{item}" is not resource=limit/window; {_FORM}')
    fields: dict[str, Any] = {"resource": resource.strip(), "scope": "account"}
    try:
        fields["limit"] = int(parts[0])
    except ValueError:
        raise ConfigurationError(
            f'{where}: "{item}": the limit must be a whole number of calls, not "{parts[0]}"'
        ) from None
    try:
        fields["window"] = float(parts[1])
    except ValueError:
        raise ConfigurationError(
            f'{where}: "{item}": the window must be a number of seconds, not "{parts[1]}"'
        ) from None
    if len(parts) == 3:
        fields["scope"] = parts[2].strip()
    try:
        return QuotaRule.model_validate(fields)
    except ValidationError as exc:
        first = pydantic_problems(exc, QuotaRule)[0]
        raise ConfigurationError(
            f'{where}: "{item}": the {first.path.removeprefix("$.")} {first.message}'
        ) from None


def _from_json(text: str, where: str) -> tuple[QuotaRule, ...]:
    data, problems = parse_json(text)
    if problems:
        raise ConfigurationError(f"{where}: {problems[0].message}; {_FORM}")
    items: list[tuple[str, Any]] = []
    if isinstance(data, list):
        items = [(json_path("$", i), item) for i, item in enumerate(data)]
    else:
        for resource, value in data.items():
            values = value if isinstance(value, list) else [value]
            for i, item in enumerate(values):
                at = json_path("$", resource, *([i] if isinstance(value, list) else []))
                given = {"resource": resource, **item} if isinstance(item, dict) else item
                items.append((at, given))
    rules = []
    for at, item in items:
        try:
            rules.append(QuotaRule.model_validate(item))
        except ValidationError as exc:
            first = pydantic_problems(exc, QuotaRule, at)[0]
            raise ConfigurationError(f"{where} {first.path}: {first.message}") from None
    return tuple(rules)


def with_override(
    defaults: Iterable[QuotaRule], text: str | None, *, service: str
) -> tuple[QuotaRule, ...]:
    """``defaults`` with the override ``text`` applied (the defaults when there is none)."""
    defaults = tuple(defaults)
    if not text:
        return defaults
    override = parse_override(text, service=service, resources=(r.resource for r in defaults))
    replaced = {rule.resource for rule in override}
    return tuple(r for r in defaults if r.resource not in replaced) + override


def packaged_rules(environ: Mapping[str, str] | None = None) -> dict[str, tuple[QuotaRule, ...]]:
    """The rules of the installed service manifests, with ``FLOWMIXER_<SERVICE>_QUOTA``
    overrides from ``environ`` (default ``os.environ``): what an engine uses by default."""
    env = os.environ if environ is None else environ
    found: dict[str, tuple[QuotaRule, ...]] = {}
    for file in _service_files(files("manifests")):
        try:
            manifest = ServiceManifest.model_validate_json(file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # the registry reports broken manifests; no rules for them here
        override = env.get(env_var(manifest.service, QUOTA_KEY))
        found[manifest.service] = with_override(manifest.quota, override, service=manifest.service)
    return found


async def configured_rules(
    services: Mapping[str, ServiceManifest], app_config: AppConfigStore
) -> dict[str, tuple[QuotaRule, ...]]:
    """The rules of ``services`` with the app configuration's ``quota`` overrides (stored, or
    from the environment) applied: what ``flowmixer serve`` uses."""
    rules: dict[str, tuple[QuotaRule, ...]] = {}
    for name, manifest in services.items():
        override = None
        if QUOTA_KEY in manifest.config_keys:
            override = (await app_config.get(name)).get(QUOTA_KEY)
        rules[name] = with_override(manifest.quota, override, service=name)
    return rules


def _service_files(root: Traversable) -> Iterator[Traversable]:
    for child in sorted(root.iterdir(), key=lambda c: c.name):
        if child.is_dir() and not child.name.startswith((".", "__")):
            yield from _service_files(child)
        elif child.name == "service.json":
            yield child
