"""Paging through a listing: every item, page by page, a page fetched only when it is needed.

How a service pages is declared once, as a value:

- :class:`CursorPages`: the body carries a cursor (a bookmark, a token) that the next request
  sends back as a query parameter, e.g. ``{"items": [...], "bookmark": "b2"}`` then
  ``?bookmark=b2``;
- :class:`NextLinkPages`: the body carries the URL of the next page, e.g.
  ``{"data": [...], "links": {"next": "https://.../items?page=2"}}``.

Field names are dotted paths into the JSON body (``meta.next_cursor``). :func:`paginate`
follows either kind through a ``fetch`` function the service client supplies, and refuses a
cursor or link the service sent before (following it would never end).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from yarl import URL

from runtime.connector.errors import InputError
from runtime.errors import ComponentError

T = TypeVar("T")

Cursor = str | int
"""Where the next page starts: a cursor value, or a next page's link."""

FetchPage = Callable[[str | None, dict[str, Any]], Awaitable[Any]]
"""``fetch(url, params)``: the parsed JSON body of one page. ``url`` is None for the listing's
own path, queried with ``params`` (the caller's, the cursor and the page size); otherwise it is
a link the service sent (absolute, or relative to the page it came in), fetched as it is with
``params`` (empty) added."""

_SHOWN = 40  # characters of a refused value quoted back in a message


class PaginationError(ComponentError):
    """A page cannot be followed: it has no list of items where declared, its cursor is of the
    wrong kind, or the service sent a cursor it had sent before (the pages would never end).

    Neither a cancel nor a retry: the flow's retry policy decides, as for any other failure.
    """


class Pages(Protocol):
    """How a listing pages (:class:`CursorPages`, :class:`NextLinkPages`)."""

    @property
    def items_field(self) -> str: ...

    @property
    def max_page_size(self) -> int: ...

    @property
    def what(self) -> str:
        """What a repeated cursor is called in an error message."""
        ...

    def request(
        self, cursor: Cursor | None, params: Mapping[str, Any], size: int
    ) -> tuple[str | None, dict[str, Any]]:
        """The ``(url, params)`` of the page at ``cursor`` (None: the first page)."""
        ...

    def cursor(self, body: Any, label: str) -> Cursor | None:
        """Where the page after ``body`` starts; None when ``body`` is the last page."""
        ...


def _check_fields(**fields: str | None) -> None:
    for name, value in fields.items():
        if value is not None and (not value or "" in value.split(".")):
            raise ValueError(f"{name} must be a field name or a dotted path, not {value!r}")


@dataclass(frozen=True, slots=True)
class CursorPages:
    """A cursor in the body (``cursor_field``) sent back as query parameter ``cursor_param``.

    An absent, null, empty or zero cursor ends the listing. ``size_param`` is the query
    parameter of the page size (None: the service takes none), at most ``max_page_size``.
    """

    cursor_field: str
    cursor_param: str
    items_field: str = "items"
    size_param: str | None = None
    max_page_size: int = 100

    def __post_init__(self) -> None:
        _check_fields(cursor_field=self.cursor_field, items_field=self.items_field)
        _check_max(self.max_page_size)

    @property
    def what(self) -> str:
        return self.cursor_field

    def request(
        self, cursor: Cursor | None, params: Mapping[str, Any], size: int
    ) -> tuple[str | None, dict[str, Any]]:
        query = dict(params)
        if self.size_param is not None:
            query[self.size_param] = size
        if cursor is not None:
            query[self.cursor_param] = cursor
        return None, query

    def cursor(self, body: Any, label: str) -> Cursor | None:
        value = field_at(body, self.cursor_field)
        if not value and not isinstance(value, bool):
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise PaginationError(
                f"{label} sent a {self.cursor_field} that is neither text nor a whole number"
            )
        return value


@dataclass(frozen=True, slots=True)
class NextLinkPages:
    """The next page's URL in the body (``next_field``); absent, null or empty on the last page.

    When the service takes a page size (``size_param``), it is set on every link followed, so
    that a ``limit`` still shrinks the last page.
    """

    next_field: str = "next"
    items_field: str = "items"
    size_param: str | None = None
    max_page_size: int = 100

    def __post_init__(self) -> None:
        _check_fields(next_field=self.next_field, items_field=self.items_field)
        _check_max(self.max_page_size)

    @property
    def what(self) -> str:
        return f"{self.next_field} link"

    def request(
        self, cursor: Cursor | None, params: Mapping[str, Any], size: int
    ) -> tuple[str | None, dict[str, Any]]:
        if cursor is None:
            query = dict(params)
            if self.size_param is not None:
                query[self.size_param] = size
            return None, query
        link = str(cursor)
        if self.size_param is not None:
            link = str(URL(link).update_query({self.size_param: size}))
        return link, {}

    def cursor(self, body: Any, label: str) -> Cursor | None:
        value = field_at(body, self.next_field)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise PaginationError(f"{label} sent a {self.next_field} that is not a link")
        return value


def _check_max(maximum: int) -> None:
    if isinstance(maximum, bool) or not isinstance(maximum, int) or maximum < 1:
        raise ValueError(f"max_page_size must be a whole number of at least 1, not {maximum!r}")


def field_at(body: Any, path: str) -> Any:
    """The value at dotted ``path`` in ``body``; None when any step is missing or no object."""
    value = body
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


async def paginate(
    fetch: FetchPage,
    pages: Pages,
    *,
    params: Mapping[str, Any] | None = None,
    page_size: int | None = None,
    limit: int | None = None,
    label: str = "the service",
) -> AsyncGenerator[Any, None]:
    """Yield the items of every page until the last page or until ``limit`` items were given.

    A page is fetched only when the previous one is used up, so stopping early (``break``,
    ``aclose``) fetches nothing more; with a ``limit`` below ``page_size`` (default: the most
    ``pages`` allows) the page asked for is that small. ``label`` names the service in errors.
    """
    wanted = pages.max_page_size if page_size is None else page_size
    check_page_size(wanted, pages.max_page_size)
    check_limit(limit)
    base = dict(params or {})
    given = 0
    cursor: Cursor | None = None
    seen: set[Cursor] = set()
    while True:
        size = wanted if limit is None else min(wanted, limit - given)
        url, query = pages.request(cursor, base, size)
        body = await fetch(url, query)
        items = field_at(body, pages.items_field)
        if not isinstance(items, list):
            raise PaginationError(f"{label} sent a page without an {pages.items_field!r} list")
        for item in items:
            yield item
            given += 1
            if limit is not None and given >= limit:
                return
        cursor = pages.cursor(body, label)
        if cursor is None:
            return
        if cursor in seen:
            raise PaginationError(
                f"{label} sent the same {pages.what} twice after {given} item(s); "
                "stopped instead of reading the same pages again"
            )
        seen.add(cursor)


async def matching(
    items: AsyncIterator[T], keep: Callable[[T], bool], *, limit: int | None = None
) -> AsyncGenerator[T, None]:
    """The items that ``keep`` accepts, at most ``limit`` of them; ``items`` is closed at the end.

    For filters a service lacks on some listing: pages are read until ``limit`` items matched.
    """
    check_limit(limit)
    given = 0
    try:
        async for item in items:
            if keep(item):
                yield item
                given += 1
                if limit is not None and given >= limit:
                    return
    finally:
        aclose = getattr(items, "aclose", None)
        if aclose is not None:
            await aclose()


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_page_size(page_size: Any, maximum: int) -> None:
    """``page_size`` is a whole number from 1 to ``maximum``."""
    if not _whole(page_size) or not 1 <= page_size <= maximum:
        raise InputError(
            "page_size", f"{_shown(page_size)} is not a whole number from 1 to {maximum}"
        )


def check_limit(limit: Any, *, required: bool = False) -> None:
    """``limit`` is a whole number of at least 1, or None (no limit) unless ``required``."""
    if limit is None and not required:
        return
    if not _whole(limit) or limit < 1:
        raise InputError("limit", f"must be a whole number of at least 1, not {_shown(limit)}")
