"""The manifest registry: every component and service manifest, checked, with handler classes.

:meth:`Registry.load` reads every ``*.json`` under its roots (by default the ``manifests``
package, wherever flowmixer is installed): ``service.json`` files are service manifests, the
others component manifests. It refuses the whole set with one :class:`ManifestError` listing
every problem in every file, each as ``<file> <JSON path>``. A component's ``auth.service``
must name a service of the set, and its scopes and quota resources must be ones that service
lists (when it lists any). A service's ``scopeAliases`` must stand for its own scopes, and the
class its ``oauth2.hooks`` names is imported and made at load (:meth:`Registry.oauth2_hooks`).

With no roots it also reads the plug-ins (:mod:`runtime.plugins`): installed packages with a
``flowmixer.components`` entry point and the folders of ``FLOWMIXER_COMPONENTS_PATH``. A broken
plug-in does not stop the others: it is left out, whole, and its problems are kept in
:attr:`Registry.broken` for the commands to report. A plug-in's component or service whose name
is taken already (by a built-in or an earlier plug-in) is one of its problems, naming both.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING

from runtime.component import Component
from runtime.errors import ConfigurationError, ManifestError, Problem
from runtime.manifest import ComponentManifest, ServiceManifest
from runtime.manifest_loader import ManifestLoader, RegisteredComponent
from runtime.plugins import PluginSource, discover
from runtime.problems import did_you_mean

if TYPE_CHECKING:
    from runtime.auth.oauth2 import OAuth2Hooks

__all__ = ["RegisteredComponent", "Registry", "UnknownComponentError"]


class UnknownComponentError(ConfigurationError, KeyError):
    """No component of that name is registered (also a ``KeyError``)."""

    def __str__(self) -> str:
        return str(self.args[0])


class Registry:
    """The known components and services, by name. Build it with :meth:`load`."""

    def __init__(
        self,
        components: Iterable[RegisteredComponent] = (),
        services: Iterable[ServiceManifest] = (),
        broken: Iterable[ManifestError] = (),
        hooks: Mapping[str, OAuth2Hooks] | None = None,
    ) -> None:
        self._components = {c.manifest.name: c for c in components}
        self._services = {s.service: s for s in services}
        self._hooks = dict(hooks or {})
        self.broken: tuple[ManifestError, ...] = tuple(broken)
        """The plug-ins left out, each as the error listing its problems (``source`` names it)."""

    @classmethod
    def load(
        cls,
        *roots: str | os.PathLike[str] | Traversable,
        plugins: Sequence[PluginSource] | None = None,
    ) -> Registry:
        """Load and check every manifest under ``roots`` (folders, or single ``.json`` files),
        then those of ``plugins``.

        Without roots: the built-in manifests, and the plug-ins discovered from the entry points
        and ``FLOWMIXER_COMPONENTS_PATH`` unless ``plugins`` is given. Raises
        :class:`ManifestError` listing every problem of every broken file of ``roots``; a broken
        plug-in is only left out (see :attr:`broken`).
        """
        chosen = roots or (files("manifests"),)
        loader = ManifestLoader()
        for root in chosen:
            # with several roots, files are named in full: two roots may share relative paths
            prefix = f"{root}/" if len(chosen) > 1 else ""
            loader.read_root(root if isinstance(root, Traversable) else Path(root), prefix)
        components = loader.finish()
        if loader.found:
            raise ManifestError(", ".join(str(r) for r in chosen), loader.sorted_problems())
        services = {name: service for name, (service, _) in loader.services.items()}
        hooks = dict(loader.hooks)
        if plugins is None:
            plugins = () if roots else discover()
        added, broken = _load_plugins(plugins, components, services, hooks)
        return cls([*components, *added], services.values(), broken, hooks)

    def get(self, name: str) -> ComponentManifest:
        """The manifest of component ``name``; :class:`UnknownComponentError` if there is none."""
        return self._entry(name).manifest

    def find(self, name: str) -> ComponentManifest | None:
        """The manifest of component ``name``, or ``None``."""
        entry = self._components.get(name)
        return None if entry is None else entry.manifest

    def handler(self, name: str) -> type[Component]:
        """The handler class of component ``name`` (imported and checked at load)."""
        return self._entry(name).handler

    def source_of(self, name: str) -> str:
        """The file component ``name`` was loaded from."""
        return self._entry(name).source

    def plugin_of(self, name: str) -> str | None:
        """The plug-in that added component ``name``; ``None`` for a built-in one."""
        return self._entry(name).plugin

    def components(self) -> list[ComponentManifest]:
        """Every component manifest, sorted by name."""
        return [self._components[name].manifest for name in sorted(self._components)]

    def names(self) -> list[str]:
        """Every component name, sorted."""
        return sorted(self._components)

    def services(self) -> dict[str, ServiceManifest]:
        """Every service manifest by service name (``vendor:service``)."""
        return dict(self._services)

    def service(self, name: str) -> ServiceManifest | None:
        """The service manifest ``name`` (``vendor:service``), or ``None``."""
        return self._services.get(name)

    def oauth2_hooks(self, service: str) -> OAuth2Hooks | None:
        """The OAuth2 hooks of ``service``: those its manifest's ``oauth2.hooks`` names
        (imported and made at load), or ``None`` (an OAuth2 client then uses the defaults)."""
        return self._hooks.get(service)

    def __contains__(self, name: object) -> bool:
        return name in self._components

    def __len__(self) -> int:
        return len(self._components)

    def _entry(self, name: str) -> RegisteredComponent:
        entry = self._components.get(name)
        if entry is None:
            hint = did_you_mean(name, self._components) or "; no component has a similar name"
            raise UnknownComponentError(f'unknown component type "{name}"{hint}')
        return entry


def _load_plugins(
    plugins: Sequence[PluginSource],
    builtin: list[RegisteredComponent],
    services: dict[str, ServiceManifest],
    hooks: dict[str, OAuth2Hooks],
) -> tuple[list[RegisteredComponent], list[ManifestError]]:
    """The components of every plug-in that has no problem, and an error for each that has.

    ``services`` (the built-in ones) gains the services of the plug-ins that read cleanly, and
    ``hooks`` their OAuth2 hooks; a plug-in may name a service that another plug-in defines.
    """
    loaders: list[tuple[PluginSource, ManifestLoader]] = []
    owners = {name: "the built-in manifests" for name in services}
    for plugin in plugins:
        loader = ManifestLoader(plugin.folder)
        if plugin.manifests is None:
            loader.report("", "$", plugin.problem or "cannot be read")
        else:
            loader.read_root(plugin.manifests, plugin.prefix)
        for name, (_service, rel) in sorted(loader.services.items()):
            if name in owners:
                loader.report(
                    rel,
                    "$.service",
                    f'the service "{name}" is already defined by {owners[name]};'
                    " service names must be unique",
                )
        if not loader.found:
            for name, (service, _) in loader.services.items():
                services[name] = service
                owners[name] = f"the plug-in {plugin.origin}"
            hooks.update(loader.hooks)
        loaders.append((plugin, loader))
    taken = {c.manifest.name: f"the built-in {c.source}" for c in builtin}
    added: list[RegisteredComponent] = []
    broken: list[ManifestError] = []
    for plugin, loader in loaders:
        # names are taken only by plug-ins that load: a broken one does not block a later one
        mine: dict[str, str] = dict(taken)
        accepted = loader.finish(services, mine, plugin.origin)
        if loader.found:
            problems = [Problem(p.path.strip(), p.message) for p in loader.sorted_problems()]
            broken.append(ManifestError(f"plug-in {plugin.origin}", problems))
            for name in loader.services:  # what a left-out plug-in defines is not offered
                if services.get(name) is loader.services[name][0]:
                    del services[name]
                    hooks.pop(name, None)
            continue
        taken = mine
        added.extend(accepted)
    return added, broken
