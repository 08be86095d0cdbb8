"""Which credentials each component of a flow gets when it starts; a flow lacking any does
not start, and its error names every service it misses, the components that need it and why."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from runtime.errors import ConfigurationError, EngineError

if TYPE_CHECKING:
    from runtime.credentials import Credentials, CredentialsResolver
    from runtime.plan import FlowPlan

NO_ACCOUNT: Final = (
    "no account is connected; connect one, or set <SERVICE>_ACCESS_TOKEN"
    " (e.g. PINTEREST_ACCESS_TOKEN)"
)


def resolve_credentials(
    plan: FlowPlan, resolver: CredentialsResolver | None
) -> dict[str, Credentials]:
    """The credentials of every component that calls a service; refuses to start without."""
    found: dict[str, Credentials] = {}
    missing: dict[str, tuple[str, list[str]]] = {}  # service -> (why, components)
    for cid, node in plan.nodes.items():
        if node.manifest.auth is None:
            continue
        service = node.manifest.auth.service
        account = plan.accounts.get(service)
        why = NO_ACCOUNT
        try:
            if resolver is None:
                credentials = None
            elif account is None:
                credentials = resolver(node.manifest)
            else:
                credentials = resolver(node.manifest, account)
        except ConfigurationError as exc:
            credentials, why = None, str(exc)
        if credentials is None:
            missing.setdefault(service, (why, []))[1].append(cid)
        else:
            found[cid] = credentials
    if missing:
        needs = "; ".join(
            f"{service} (needed by {', '.join(cids)}): {why}"
            for service, (why, cids) in missing.items()
        )
        raise EngineError(f"flow {plan.id!r} cannot start: {needs}")
    return found
