"""Following Pinterest's bookmarks: every item of a list, page by page, fetched only as needed."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from typing import Any, TypeVar

from components.pinterest.errors import PaginationError
from components.pinterest.limits import PAGE_SIZE_MAX, check_limit, check_page_size

T = TypeVar("T")

FetchPage = Callable[[str | None, int], Awaitable[Any]]
"""``fetch_page(bookmark, page_size)``: the JSON body ``{"items": [...], "bookmark": ...}``
of one page; ``bookmark`` is None for the first page."""


async def paginate(
    fetch_page: FetchPage, *, page_size: int = PAGE_SIZE_MAX, limit: int | None = None
) -> AsyncGenerator[dict[str, Any], None]:
    """Yield the items of every page until the bookmark is empty or ``limit`` items were given.

    A page is fetched only when the previous one is used up, so stopping early (``break``,
    ``aclose``) fetches nothing more; with a ``limit`` below ``page_size`` the page is that small.
    A bookmark the API sent before raises :class:`PaginationError` instead of looping forever.
    """
    check_page_size(page_size)
    check_limit(limit)
    given = 0
    bookmark: str | None = None
    seen: set[str] = set()
    while True:
        size = page_size if limit is None else min(page_size, limit - given)
        body = await fetch_page(bookmark, size)
        items = body.get("items") if isinstance(body, Mapping) else None
        if not isinstance(items, list):
            raise PaginationError("Pinterest sent a page without an 'items' list")
        for item in items:
            yield item
            given += 1
            if limit is not None and given >= limit:
                return
        bookmark = body.get("bookmark")
        if not bookmark:
            return
        if not isinstance(bookmark, str):
            raise PaginationError("Pinterest sent a bookmark that is not text")
        if bookmark in seen:
            raise PaginationError(
                f"Pinterest sent the same bookmark twice after {given} item(s); "
                "stopped instead of reading the same pages again"
            )
        seen.add(bookmark)


async def matching(
    items: AsyncGenerator[T, None], keep: Callable[[T], bool], *, limit: int | None = None
) -> AsyncGenerator[T, None]:
    """The items that ``keep`` accepts, at most ``limit`` of them; ``items`` is closed at the end.

    For filters the API lacks on some listing: pages are read until ``limit`` items matched.
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
        await items.aclose()
