"""What the HttpRequest tests share: the test services and flows that call them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runtime.plugins import PATH_VARIABLE, discover
from runtime.registry import Registry

SERVICES = Path(__file__).resolve().parent.parent / "fixtures" / "http_services"
"""A plug-in folder holding only service.json files: ``acme:crm`` (OAuth2) and
``acme:weather`` (an API key in ``apiKey``)."""


def registry() -> Registry:
    """The built-in components and the two test services."""
    return Registry.load(plugins=discover({PATH_VARIABLE: str(SERVICES)}))


def flow(properties: dict[str, Any], *, flow_id: str = "calls", **extra: Any) -> dict[str, Any]:
    """A webhook feeding one HttpRequest ``call`` with ``properties``; with ``wire_error``
    its ``error`` port feeds a Filter ``failed`` that passes every answer on (an output)."""
    wire_error = extra.pop("wire_error", False)
    components: dict[str, Any] = {
        "hook": {"type": "flowmixer.core.Webhook"},
        "call": {
            "type": "flowmixer.core.HttpRequest",
            "source": {"in": {"hook": ["out"]}},
            "config": {"properties": properties},
        },
    }
    if wire_error:
        components["failed"] = {
            "type": "flowmixer.core.Filter",
            "source": {"in": {"call": ["error"]}},
            "config": {"properties": {"field": "status", "operator": "exists"}},
        }
    return {"id": flow_id, "components": components, **extra}
