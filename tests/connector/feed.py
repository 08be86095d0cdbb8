"""A small JSON API on 127.0.0.1 that is not Pinterest, and components built on the SDK for it.

The feed holds entries (``{"id", "created_at", "title"}``, ``created_at`` in epoch seconds) and
lists them newest first in four shapes, one per route:

``/cursor``    ``{"data": [...], "meta": {"next_cursor": "c4"}}``; ``?after=c4&per_page=n``
``/numbered``  ``{"entries": [...], "next": 4}`` (numeric, 0 at the end); ``?from=4&count=n``
``/links``     ``{"results": [...], "links": {"next": "<URL>"}}``; ``?offset=4&size=n``
``/fixed``     ``{"items": [...], "cursor": "..."}`` in pages of :data:`FIXED_PAGE` (no size)

``/scripted`` answers the bodies a test gives, in order. Every request's query is recorded.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any, Final

import aiohttp
import structlog
from aiohttp import web
from yarl import URL

from runtime.component import Context, State
from runtime.connector import (
    CursorPages,
    ListComponent,
    NextLinkPages,
    Pages,
    PollingTrigger,
    paginate,
)
from runtime.registry import Registry
from runtime.stores.memory import MemoryStore
from runtime.telemetry import NO_TELEMETRY

FIXED_PAGE: Final = 7

SHAPES: Final[Mapping[str, Pages]] = {
    "cursor": CursorPages(
        items_field="data",
        cursor_field="meta.next_cursor",
        cursor_param="after",
        size_param="per_page",
        max_page_size=50,
    ),
    "numbered": CursorPages(
        items_field="entries",
        cursor_field="next",
        cursor_param="from",
        size_param="count",
        max_page_size=20,
    ),
    "links": NextLinkPages(
        items_field="results", next_field="links.next", size_param="size", max_page_size=30
    ),
    "fixed": CursorPages(cursor_field="cursor", cursor_param="cursor", max_page_size=FIXED_PAGE),
}
"""How to page each route of the feed."""

SIZE_PARAMS: Final = {"cursor": "per_page", "numbered": "count", "links": "size"}


@dataclass
class Feed:
    """The feed's entries, newest first, and the queries it was asked."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    queries: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    scripted: list[Any] = field(default_factory=list)
    failing: bool = False
    relative_links: bool = False
    base: str = ""
    _next_id: int = 1

    def add(self, created_at: float, **fields: Any) -> dict[str, Any]:
        """A new entry; the listing stays newest first (then by id)."""
        entry = {"id": str(self._next_id), "created_at": created_at, **fields}
        self._next_id += 1
        self.entries.append(entry)
        self.entries.sort(key=lambda e: (e["created_at"], len(e["id"]), e["id"]), reverse=True)
        return entry

    def asked(self, route: str) -> list[dict[str, str]]:
        return [query for path, query in self.queries if path == route]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        route = request.match_info["route"]
        query = dict(request.query)
        self.queries.append((route, query))
        if self.failing:
            return web.json_response({"message": "down"}, status=500)
        if route == "scripted":
            body = self.scripted.pop(0) if len(self.scripted) > 1 else self.scripted[0]
            return web.json_response(body)
        answer = _ROUTES.get(route)
        if answer is None:
            return web.json_response({"message": "no such route"}, status=404)
        return web.json_response(answer(self, query))

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Feed]:
        app = web.Application()
        app.router.add_get("/{route}", self._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        try:
            yield self
        finally:
            await runner.cleanup()


def _page(feed: Feed, start: int, size: int) -> tuple[list[dict[str, Any]], int | None]:
    page = feed.entries[start : start + size]
    following = start + size
    return page, following if following < len(feed.entries) else None


def _cursor(feed: Feed, query: dict[str, str]) -> Any:
    page, following = _page(feed, int(query.get("after", "c0")[1:]), int(query["per_page"]))
    return {"data": page, "meta": {"next_cursor": None if following is None else f"c{following}"}}


def _numbered(feed: Feed, query: dict[str, str]) -> Any:
    page, following = _page(feed, int(query.get("from", 0)), int(query["count"]))
    return {"entries": page, "next": following or 0}


def _links(feed: Feed, query: dict[str, str]) -> Any:
    size = int(query["size"])
    page, following = _page(feed, int(query.get("offset", 0)), size)
    link = None
    if following is not None:
        relative = URL("/links").with_query({"offset": following, "size": size})
        link = str(relative if feed.relative_links else URL(feed.base).join(relative))
    return {"results": page, "links": {"next": link}}


def _fixed(feed: Feed, query: dict[str, str]) -> Any:
    page, following = _page(feed, int(query.get("cursor", "0")), FIXED_PAGE)
    return {"items": page, "cursor": None if following is None else str(following)}


_ROUTES = {"cursor": _cursor, "numbered": _numbered, "links": _links, "fixed": _fixed}


def listing(
    session: aiohttp.ClientSession,
    base: str,
    route: str,
    *,
    page_size: int | None = None,
    limit: int | None = None,
    params: Mapping[str, Any] | None = None,
) -> AsyncIterator[Any]:
    """The entries of ``route`` as a client built on :func:`paginate` would list them."""
    own = URL(f"{base}/{route}")

    async def fetch(url: str | None, query: dict[str, Any]) -> Any:
        target = own if url is None else own.join(URL(url))
        async with session.get(target, params=query or None) as response:
            response.raise_for_status()
            return await response.json()

    return paginate(
        fetch, SHAPES[route], params=params, page_size=page_size, limit=limit, label="The feed"
    )


# -- components on the SDK (manifests in tests/connector/manifests/feed) ---------------------


class NewEntry(PollingTrigger):
    """Sends each new entry of the feed at property ``url`` (listed in ``shape``)."""

    page_size = 5

    def listing(self, context: Context, properties: Mapping[str, Any]) -> AsyncIterator[Any]:
        base, route = str(properties["url"]).rsplit("/", 1)
        return listing(context.http, base, route, page_size=self.page_size)

    def listing_key(self, properties: Mapping[str, Any]) -> str:
        return str(properties["url"])


class NewTitle(NewEntry):
    """The same feed, an entry known by its title and dated by ``published`` (ISO time)."""

    def item_id(self, item: Any) -> str:
        return str(item["title"])

    def created_at(self, item: Any) -> float | None:
        return super().created_at({"created_at": item.get("published")})

    def payload(self, item: Any) -> Any:
        return {"title": item["title"]}


class ListEntries(ListComponent):
    """Sends the entries of the feed at property ``url``, as ``outputMode`` says."""

    def items(self, context: Context, limit: int) -> AsyncIterator[Any]:
        base, route = str(context.properties["url"]).rsplit("/", 1)
        return listing(context.http, base, route, limit=limit)


class Node:
    """What a :class:`Context` needs from the engine; ``sent`` records ``(port, payload)``."""

    flow_id = "flow"
    component_id = "step"

    def __init__(
        self,
        properties: Mapping[str, Any] | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._session = session
        self.properties: Mapping[str, Any] = dict(properties or {})
        self.state = State(MemoryStore(), self.flow_id, self.component_id)
        self.auth = None
        self.telemetry = NO_TELEMETRY
        self.quotas = None
        self.circuits = None
        self.logger = structlog.get_logger("test")
        self.sent: list[tuple[str, Any]] = []

    def http(self) -> aiohttp.ClientSession:
        assert self._session is not None, "this test gave the node no HTTP session"
        return self._session

    async def emit(self, context: Context, payload: Any, port: str) -> None:
        self.sent.append((port, payload))

    def context(self) -> Context:
        return Context(self)


def registry() -> Registry:
    """The built-in components and those of this folder (``test.feed.*``)."""
    return Registry.load(files("manifests"), Path(__file__).parent / "manifests")
