"""Which scopes a login asks for: what the components in use declare, and no more.

The scopes asked for are the union of the ``auth.scopes`` of the components in use (least
privilege: nothing that no component needs): those of the given flows (``--flow``), else every
component of the service except those whose manifest says ``"requestByDefault": false`` (a raw
API call that could reach any endpoint asks for its scopes only when a flow uses it), unless a
person names the scopes (``--scopes``).
Named scopes may use older names the service manifest declares (``scopeAliases``), each
mapped to the scopes it stands for.

A name that is neither a scope of the service nor an older name is refused, naming the valid
ones (and the older names, when the service has any).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from runtime.errors import ConfigurationError

if TYPE_CHECKING:
    from runtime.manifest import ComponentManifest, ServiceManifest


def declared_scopes(
    service: ServiceManifest, components: Iterable[ComponentManifest], *, in_flows: bool = False
) -> tuple[str, ...]:
    """The union of the scopes the components using ``service`` declare, sorted.

    ``in_flows`` says the components are those of flows (all count); otherwise they are a
    catalogue, and the ones not requested by default are left out."""
    found: set[str] = set()
    for component in components:
        auth = component.auth
        if auth is None or auth.service != service.service:
            continue
        if in_flows or auth.request_by_default:
            found.update(auth.scopes)
    return tuple(sorted(found))


def parse_scope_list(text: str) -> list[str]:
    """Scope names given on a command line: separated by commas and/or spaces."""
    return [name for name in text.replace(",", " ").split() if name]


def normalize_scopes(service: ServiceManifest, names: Iterable[str]) -> tuple[str, ...]:
    """``names`` as scopes of ``service`` (its ``scopeAliases`` mapped), sorted and unique.

    :class:`ConfigurationError` names every unknown scope and lists the valid names.
    """
    known = set(service.scopes)
    aliases = service.scope_aliases
    result: set[str] = set()
    unknown: list[str] = []
    for name in names:
        if name in known:
            result.add(name)
        elif name in aliases and set(aliases[name]) <= known:
            result.update(aliases[name])
        else:
            unknown.append(name)
    if unknown:
        valid = ", ".join(service.scopes) or "none"
        older = ", ".join(aliases)
        raise ConfigurationError(
            f"{service.service} has no scope {', '.join(map(repr, unknown))}; its scopes are: "
            f"{valid}" + (f" (older names also accepted: {older})" if older else "")
        )
    if not result:
        raise ConfigurationError(f"no scopes to ask {service.service} for; name at least one")
    return tuple(sorted(result))


def scopes_to_request(
    service: ServiceManifest,
    components: Iterable[ComponentManifest],
    override: Iterable[str] | None = None,
    *,
    in_flows: bool = False,
) -> tuple[str, ...]:
    """The scopes a login asks for: ``override`` when given (checked, older names mapped),
    else the union the components declare (see :func:`declared_scopes` for ``in_flows``);
    plus, always, what the profile call needs to name the account (``oauth2.profileScopes``)."""
    profile = service.oauth2.profile_scopes if service.oauth2 is not None else ()
    if override is not None:
        return normalize_scopes(service, [*override, *profile])
    declared = declared_scopes(service, components, in_flows=in_flows)
    return normalize_scopes(service, [*declared, *profile])
