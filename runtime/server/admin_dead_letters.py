"""The admin API's dead letters, under ``/api/dead-letters`` (behind the bearer token).

=======  ================================  ===================================================
GET      /api/dead-letters                 newest first, filtered (see below), one page
GET      /api/dead-letters/counts          how many, per flow, component and error type
POST     /api/dead-letters/retry           deliver again every letter of ``?flow=`` matching
DELETE   /api/dead-letters                 drop every letter of ``?flow=`` matching
GET      /api/dead-letters/{id}            one, with its envelope
POST     /api/dead-letters/{id}/retry      deliver again (now, or at the flow's next start)
DELETE   /api/dead-letters/{id}            drop for good
=======  ================================  ===================================================

Filters (query parameters, all optional except ``flow`` for the bulk routes): ``flow``,
``component``, ``errorType``, ``since`` and ``until`` (ISO 8601, epoch seconds or an age such as
``2h``), ``search`` (in the error, any case). Listing also takes ``limit`` (1-1000, default 100)
and ``cursor`` (the ``next`` of the page before). A letter is delivered again at once when its
flow runs in this server (in an API process of a scale-out: into the flow's stream, for the
workers), else marked for the flow's next start; a scale-out's processes are told either way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from aiohttp import web

from runtime.errors import EngineError
from runtime.server import control
from runtime.server.context import CONTEXT
from runtime.server.errors import fail
from runtime.stores.letters import DeadLetterQuery, parse_time

if TYPE_CHECKING:
    from runtime.server.context import ServerContext

MAX_LIMIT: Final = 1000
_FILTERS: Final = ("flow", "component", "errorType", "since", "until", "search")
_PAGING: Final = ("limit", "cursor")


def _query(request: web.Request, *, paged: bool = False, bulk: bool = False) -> DeadLetterQuery:
    """The filters of ``request``; 400 naming an unknown parameter or a value that is wrong."""
    params = request.query
    known = _FILTERS + _PAGING if paged else _FILTERS
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise fail(
            400, f"unknown query parameter(s): {', '.join(unknown)}; known: {', '.join(known)}"
        )
    if bulk and not params.get("flow"):
        raise fail(400, "flow is required: a bulk action applies to the letters of one flow")
    try:
        since = parse_time(params["since"], "since") if "since" in params else None
        until = parse_time(params["until"], "until") if "until" in params else None
    except ValueError as exc:
        raise fail(400, str(exc)) from None
    return DeadLetterQuery(
        flow_id=params.get("flow"),
        component_id=params.get("component"),
        error_type=params.get("errorType"),
        since=since,
        until=until,
        text=params.get("search"),
    )


def _limit(request: web.Request) -> int:
    text = request.query.get("limit", "100")
    try:
        limit = int(text)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise fail(400, f"limit must be a whole number from 1 to {MAX_LIMIT}, got {text!r}")
    return limit


async def list_letters(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    query = _query(request, paged=True)
    limit = _limit(request)
    try:
        page = await ctx.store.find_dead_letters(
            query, limit=limit, cursor=request.query.get("cursor")
        )
    except ValueError as exc:
        raise fail(400, f"cursor: {exc}") from None
    letters = [letter.to_dict() for letter in page.letters]
    return web.json_response({"deadLetters": letters, "next": page.next})


async def count_letters(request: web.Request) -> web.Response:
    counts = await request.app[CONTEXT].store.count_dead_letters(_query(request))
    return web.json_response(
        {"counts": [c.to_dict() for c in counts], "total": sum(c.count for c in counts)}
    )


async def show_letter(request: web.Request) -> web.Response:
    letter_id = request.match_info["letter_id"]
    letter = await request.app[CONTEXT].store.get_dead_letter(letter_id)
    if letter is None:
        raise fail(404, f"there is no dead letter {letter_id!r}")
    return web.json_response(letter.to_dict())


async def retry_letter(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    letter_id = request.match_info["letter_id"]
    letter = await ctx.store.get_dead_letter(letter_id)
    if letter is None:
        raise fail(404, f"there is no dead letter {letter_id!r}")
    try:
        result = await ctx.engine.retry_dead_letter(letter_id)
    except EngineError as exc:
        raise fail(409, str(exc)) from None
    await control.announce(ctx, letter.flow_id, "retry")
    return web.json_response({"id": letter_id, "result": result})


async def retry_letters(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    query = _query(request, bulk=True)
    assert query.flow_id is not None
    if not ctx.engine.is_running(query.flow_id):
        scheduled = await ctx.store.request_retries(query)
        await control.announce(ctx, query.flow_id, "retry")
        return web.json_response({"requeued": 0, "scheduled": scheduled})
    results = await _requeue(ctx, query)
    await control.announce(ctx, query.flow_id, "retry")
    return web.json_response(results)


async def _requeue(ctx: ServerContext, query: DeadLetterQuery) -> dict[str, int]:
    # The ids are read first: a letter delivered again may fail at once and come back as a new
    # letter that matches too, which must wait for the next request rather than loop.
    ids: list[str] = []
    cursor: str | None = None
    while True:
        page = await ctx.store.find_dead_letters(query, limit=MAX_LIMIT, cursor=cursor)
        ids.extend(letter.id for letter in page.letters)
        if page.next is None:
            break
        cursor = page.next
    results = {"requeued": 0, "scheduled": 0}
    for letter_id in ids:
        try:
            results[await ctx.engine.retry_dead_letter(letter_id)] += 1
        except EngineError:
            continue  # dropped or retried by someone else meanwhile
    return results


async def drop_letter(request: web.Request) -> web.Response:
    letter_id = request.match_info["letter_id"]
    if not await request.app[CONTEXT].store.delete_dead_letter(letter_id):
        raise fail(404, f"there is no dead letter {letter_id!r}")
    return web.json_response({"dropped": letter_id})


async def drop_letters(request: web.Request) -> web.Response:
    query = _query(request, bulk=True)
    dropped = await request.app[CONTEXT].store.delete_dead_letters(query)
    return web.json_response({"dropped": dropped})


def add_routes(app: web.Application) -> None:
    router = app.router
    # The fixed paths first, so that "counts" and "retry" are never read as a letter's id.
    router.add_get("/api/dead-letters", list_letters)
    router.add_delete("/api/dead-letters", drop_letters)
    router.add_get("/api/dead-letters/counts", count_letters)
    router.add_post("/api/dead-letters/retry", retry_letters)
    router.add_get("/api/dead-letters/{letter_id}", show_letter)
    router.add_post("/api/dead-letters/{letter_id}/retry", retry_letter)
    router.add_delete("/api/dead-letters/{letter_id}", drop_letter)
