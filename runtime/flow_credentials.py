"""Which credentials each component of a flow gets when it starts; a flow lacking any does
not start, and its error names every service it misses, the components that need it and why."""

from __future__ import annotations

from typing import TYPE_CHECKING

from runtime.auth.header_secret import not_configured
from runtime.credentials import token_variable
from runtime.errors import ConfigurationError, EngineError

if TYPE_CHECKING:
    from runtime.credentials import Credentials, CredentialsResolver
    from runtime.plan import FlowPlan


def no_account(service: str) -> str:
    """What to do when nothing gives ``service`` credentials: both ways, by their real names."""
    short = service.split(":", 1)[-1]
    return (
        f"no account is connected and no token is set; connect an account with"
        f" `flowmixer auth login {short}`, or set {token_variable(service)} to an access token"
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
        secret = node.manifest.auth.secret
        why = no_account(service) if secret is None else not_configured(service, secret)
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
