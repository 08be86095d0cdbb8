"""What a service manifest says that the model alone cannot check: its scope aliases, its hooks.

Each problem is ``(JSON path, message)``, as the manifest loader reports them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from runtime.manifest import ServiceManifest
from runtime.mapping import json_path
from runtime.named_classes import import_named
from runtime.problems import did_you_mean

if TYPE_CHECKING:
    from runtime.auth.oauth2 import OAuth2Hooks


def alias_problems(service: ServiceManifest) -> Iterator[tuple[str, str]]:
    """Every ``scopeAliases`` entry that shadows a scope, or names no scope or an unknown one."""
    offered = service.scopes
    if service.scope_aliases and not offered:
        yield "$.scopeAliases", "needs the scopes they stand for: list them in scopes"
        return
    for alias, targets in service.scope_aliases.items():
        where = json_path("$.scopeAliases", alias)
        if alias in offered:
            yield where, f'"{alias}" is a scope of the service itself; an alias must not shadow it'
        if not targets:
            yield where, "must name at least one of the service's scopes"
        for i, scope in enumerate(targets):
            if scope not in offered:
                yield (
                    json_path(where, i),
                    f'names the scope "{scope}", which the service does not list; its scopes'
                    f" are: {', '.join(offered)}{did_you_mean(scope, offered)}",
                )


def load_hooks(service: ServiceManifest, folder: Path | None) -> OAuth2Hooks | None:
    """The hooks ``oauth2.hooks`` names, made with no arguments (``None`` when it names none);
    ``ValueError`` with a sentence when they are unusable. ``folder``: a plug-in folder."""
    spec = service.oauth2.hooks if service.oauth2 is not None else None
    if spec is None:
        return None
    # Imported here: the auth package (aiohttp's server, cryptography) is not needed to load
    # manifests that name no hooks, and ``import runtime`` stays light.
    from runtime.auth.oauth2 import OAuth2Hooks

    hooks = import_named(
        spec, OAuth2Hooks, noun="an OAuth2 hooks class", role="hooks", folder=folder
    )
    try:
        return hooks()
    except Exception as exc:  # a class that cannot be made is as unusable as a missing one
        raise ValueError(
            f'names "{spec}", which cannot be made without arguments ({type(exc).__name__}: {exc})'
        ) from None
