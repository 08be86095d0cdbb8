"""Auth chosen per flow: a component whose service a property names (``authProperty``).

A generic component (``flowmixer.core.HttpRequest``) has no service of its own: each flow says
in a property which service it calls and with what credential. :func:`chosen_manifest` checks
that choice against the services and returns the component's manifest with the chosen
``auth`` (and ``quota``) filled in, so that everything downstream of validation (credentials at
start-up, the scopes of ``auth login --flow``, the flow's ``accounts``, quotas) treats the
component as if its manifest had named the service.

:func:`auth_problems` is also how a static manifest's header secret is checked.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import ValidationError

from runtime.errors import Problem
from runtime.manifest import AuthRequirement, ComponentManifest, Quota, ServiceManifest
from runtime.mapping import json_path
from runtime.problems import did_you_mean


def auth_problems(
    auth: AuthRequirement, services: Mapping[str, ServiceManifest], at: str
) -> Iterator[Problem]:
    """What ``auth`` asks that its service cannot give, at JSON paths below ``at``."""
    service = services.get(auth.service)
    if service is None:
        known = ", ".join(sorted(services)) or "none"
        yield Problem(
            f"{at}.service",
            f'names the service "{auth.service}", which no service.json defines'
            f"{did_you_mean(auth.service, services)}; known services: {known}",
        )
        return
    secrets = ", ".join(service.secret_keys) or "none"
    if auth.secret is None and service.oauth2 is None:
        yield Problem(
            at,
            f'the service "{auth.service}" does not connect accounts with OAuth2: name a'
            f' secret of its app configuration to send in a header ("header" and "secret";'
            f" its secret keys: {secrets})",
        )
    if auth.secret is not None and auth.secret not in service.secret_keys:
        yield Problem(
            f"{at}.secret",
            f'"{auth.secret}" is not a secret key of the service "{auth.service}" (its'
            f" service.json's secretKeys: {secrets}); only secret keys are stored encrypted"
            f"{did_you_mean(auth.secret, service.secret_keys)}",
        )
    if auth.secret is not None and auth.scopes:
        yield Problem(
            f"{at}.scopes", "scopes are granted to an OAuth2 account; a header secret has none"
        )
    offered = service.scopes
    for i, scope in enumerate(auth.scopes if offered and auth.secret is None else ()):
        if scope not in offered:
            yield Problem(
                json_path(f"{at}.scopes", i),
                f'names the scope "{scope}", which the service "{auth.service}" does not list;'
                f" its scopes are: {', '.join(offered)}{did_you_mean(scope, offered)}",
            )


def quota_problem(resource: str, service: ServiceManifest | None, at: str) -> Problem | None:
    """Why ``resource`` is not a quota resource of ``service`` (when it lists any)."""
    if service is None:
        return None
    limited = list(dict.fromkeys(rule.resource for rule in service.quota))
    if not limited or resource in limited:
        return None
    return Problem(
        at,
        f'names the quota resource "{resource}", which no quota rule of the service'
        f' "{service.service}" limits; its quota resources are: {", ".join(limited)}'
        f"{did_you_mean(resource, limited)}",
    )


def chosen_manifest(
    manifest: ComponentManifest,
    properties: Mapping[str, Any],
    services: Mapping[str, ServiceManifest],
    at: str,
) -> tuple[ComponentManifest, list[Problem]]:
    """``manifest`` with the auth and quota its properties choose, and the problems of the
    choice (at JSON paths below ``at``, the component's ``config.properties``).

    A manifest without ``authProperty`` is returned as it is; so is one whose property is
    absent (the component then calls no service with credentials).
    """
    name = manifest.auth_property
    if name is None or properties.get(name) is None:
        return manifest, []
    where = json_path(at, name)
    try:
        auth = AuthRequirement.model_validate(properties[name])
    except ValidationError as exc:
        first = exc.errors()[0]
        return manifest, [Problem(json_path(where, *first["loc"]), first["msg"])]
    problems = list(auth_problems(auth, services, where))
    update: dict[str, Any] = {"auth": auth}
    resource = properties.get(manifest.quota_property) if manifest.quota_property else None
    if isinstance(resource, str):
        assert manifest.quota_property is not None
        problem = quota_problem(
            resource, services.get(auth.service), json_path(at, manifest.quota_property)
        )
        problems.extend([problem] if problem is not None else [])
        update["quota"] = Quota(resources=(resource,))
    return manifest.model_copy(update=update), problems
