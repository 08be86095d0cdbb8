"""PinterestClient: Pinterest API v5 as Python methods; components call nothing else.

Inputs are checked against the API's limits (:mod:`components.pinterest.limits`) before
anything is sent. Every call goes through the connector SDK's
:class:`~runtime.connector.ServiceClient` for :data:`~components.pinterest.connector.PINTEREST`:
its quota, circuit, token (a 401 refreshes once; a 401 with Pinterest code 3, a missing scope,
is raised at once) and error table.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, overload
from urllib.parse import quote

import aiohttp
from pydantic import BaseModel, ValidationError

from components.pinterest import limits
from components.pinterest.connector import DEFAULT_API_BASE, PINTEREST
from components.pinterest.errors import MediaFailedError, MediaNotReadyError
from components.pinterest.models import (
    Board,
    BoardSection,
    Media,
    MediaUpload,
    Pin,
    UserAccount,
)
from components.pinterest.pagination import matching, paginate
from runtime.connector import ApiResponse, InputError, ServiceClient, ServiceError
from runtime.telemetry import NO_TELEMETRY

if TYPE_CHECKING:
    from structlog.typing import FilteringBoundLogger

    from runtime.circuit import Circuits
    from runtime.credentials import Credentials
    from runtime.quota import Quotas
    from runtime.telemetry import Telemetry

__all__ = ["PinterestClient"]

M = TypeVar("M", bound=BaseModel)


def _segment(value: str, field_name: str) -> str:
    """A path segment from free text (an id without a pattern), quoted so it stays one segment."""
    if not isinstance(value, str) or not value:
        raise InputError(field_name, "required (non-empty text)")
    return quote(value, safe="")


class PinterestClient:
    """A client of Pinterest API v5 for one account, over the SDK's service client ``api``."""

    def __init__(self, api: ServiceClient) -> None:
        self._api = api

    @classmethod
    def connect(
        cls,
        session: aiohttp.ClientSession,
        credentials: Credentials,
        *,
        api_base: str = DEFAULT_API_BASE,
        timeout: float | None = None,
        logger: FilteringBoundLogger | None = None,
        telemetry: Telemetry = NO_TELEMETRY,
        quotas: Quotas | None = None,
        circuits: Circuits | None = None,
    ) -> PinterestClient:
        """A client of ``credentials``' account over ``session`` (what a test or a tool uses;
        components use :func:`components.pinterest.base.client_for`)."""
        return cls(
            ServiceClient(
                session,
                PINTEREST,
                credentials,
                api_base=api_base,
                timeout=timeout,
                logger=logger,
                telemetry=telemetry,
                quotas=quotas,
                circuits=circuits,
            )
        )

    @property
    def api_base(self) -> str:
        return self._api.api_base

    def __repr__(self) -> str:
        return f"PinterestClient(api_base={self.api_base!r})"

    # -- HTTP ----------------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Any = None,
    ) -> ApiResponse:
        """Call ``method path`` (``path`` below the API base, e.g. ``/boards``); see
        :meth:`ServiceClient.request <runtime.connector.ServiceClient.request>`."""
        return await self._api.request(method, path, params=params, json=json, data=data)

    async def _fetch(self, model: type[M], method: str, path: str, *, json: Any = None) -> M:
        response = await self.request(method, path, json=json)
        return _read(model, response.body, f"{method} {path}")

    # -- pagination ----------------------------------------------------------------------------

    @overload
    def paginate(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = ...,
        page_size: int = ...,
        limit: int | None = ...,
        model: None = ...,
    ) -> AsyncIterator[dict[str, Any]]: ...

    @overload
    def paginate(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = ...,
        page_size: int = ...,
        limit: int | None = ...,
        model: type[M],
    ) -> AsyncIterator[M]: ...

    def paginate(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        page_size: int = limits.PAGE_SIZE_MAX,
        limit: int | None = None,
        model: type[BaseModel] | None = None,
    ) -> AsyncIterator[Any]:
        """Every item of the list at ``path`` (as ``model`` when given), page by page.

        Pages are fetched as the iterator is consumed; at most ``limit`` items are given.
        """
        return self._items(path, params, page_size, limit, model, sized=True)

    async def _items(
        self,
        path: str,
        params: Mapping[str, Any] | None,
        page_size: int,
        limit: int | None,
        model: type[BaseModel] | None,
        *,
        sized: bool,
    ) -> AsyncGenerator[Any, None]:
        async def fetch(bookmark: str | None, size: int) -> Any:
            query = dict(params or {})
            if sized:  # GET /search/pins takes no page_size
                query["page_size"] = size
            query["bookmark"] = bookmark
            return (await self.request("GET", path, params=query)).body

        pages = paginate(fetch, page_size=page_size, limit=limit)
        try:
            async for item in pages:
                yield item if model is None else _read(model, item, f"GET {path}")
        finally:
            await pages.aclose()

    # -- account and boards --------------------------------------------------------------------

    async def get_user_account(self) -> UserAccount:
        """The account of the token."""
        return await self._fetch(UserAccount, "GET", "/user_account")

    def list_boards(
        self, *, privacy: str | None = None, limit: int | None = None
    ) -> AsyncIterator[Board]:
        """The account's boards (and group boards it collaborates on), optionally by privacy."""
        limits.check_choice("privacy", privacy, limits.BOARD_PRIVACY_FILTER)
        return self.paginate("/boards", params={"privacy": privacy}, limit=limit, model=Board)

    async def get_board(self, board_id: str) -> Board:
        limits.check_id("board_id", board_id)
        return await self._fetch(Board, "GET", f"/boards/{board_id}")

    async def create_board(
        self, *, name: str, description: str | None = None, privacy: str = "PUBLIC"
    ) -> Board:
        limits.check_board(
            name=name,
            description=description,
            privacy=privacy,
            privacy_choices=limits.BOARD_PRIVACY,
            name_required=True,
        )
        body = _present({"name": name, "description": description, "privacy": privacy})
        return await self._fetch(Board, "POST", "/boards", json=body)

    async def update_board(
        self,
        board_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        privacy: str | None = None,
    ) -> Board:
        """Change the given fields; privacy can only become ``PUBLIC`` or ``SECRET``."""
        limits.check_id("board_id", board_id)
        limits.check_board(
            name=name,
            description=description,
            privacy=privacy,
            privacy_choices=limits.BOARD_UPDATE_PRIVACY,
        )
        body = _present({"name": name, "description": description, "privacy": privacy})
        if not body:
            raise InputError("board", "nothing to change: give name, description or privacy")
        return await self._fetch(Board, "PATCH", f"/boards/{board_id}", json=body)

    async def delete_board(self, board_id: str) -> None:
        limits.check_id("board_id", board_id)
        await self.request("DELETE", f"/boards/{board_id}")

    def search_boards(
        self, query: str | None = None, *, limit: int | None = None
    ) -> AsyncIterator[Board]:
        """The account's boards matching ``query`` (every board when None)."""
        return self.paginate("/search/boards", params={"query": query}, limit=limit, model=Board)

    # -- sections ------------------------------------------------------------------------------

    def list_board_sections(
        self, board_id: str, *, limit: int | None = None
    ) -> AsyncIterator[BoardSection]:
        limits.check_id("board_id", board_id)
        return self.paginate(f"/boards/{board_id}/sections", limit=limit, model=BoardSection)

    async def create_board_section(self, board_id: str, name: str) -> BoardSection:
        limits.check_id("board_id", board_id)
        limits.check_section_name(name)
        path = f"/boards/{board_id}/sections"
        return await self._fetch(BoardSection, "POST", path, json={"name": name})

    async def update_board_section(self, board_id: str, section_id: str, name: str) -> BoardSection:
        limits.check_id("board_id", board_id)
        limits.check_id("section_id", section_id)
        limits.check_section_name(name)
        path = f"/boards/{board_id}/sections/{section_id}"
        return await self._fetch(BoardSection, "PATCH", path, json={"name": name})

    async def delete_board_section(self, board_id: str, section_id: str) -> None:
        limits.check_id("board_id", board_id)
        limits.check_id("section_id", section_id)
        await self.request("DELETE", f"/boards/{board_id}/sections/{section_id}")

    # -- pins ----------------------------------------------------------------------------------

    def list_board_pins(
        self,
        board_id: str,
        *,
        section_id: str | None = None,
        creative_types: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[Pin]:
        """The Pins of a board (those in its sections too), or of one section.

        The section listing has no ``creative_types`` parameter: there they are filtered here.
        """
        limits.check_id("board_id", board_id)
        limits.check_id("section_id", section_id)
        limits.check_choices("creative_types", creative_types, limits.CREATIVE_TYPES)
        limits.check_limit(limit)
        if section_id is None:
            params = {"creative_types": list(creative_types or [])}
            return self.paginate(f"/boards/{board_id}/pins", params=params, limit=limit, model=Pin)
        path = f"/boards/{board_id}/sections/{section_id}/pins"
        if not creative_types:
            return self.paginate(path, limit=limit, model=Pin)
        wanted = set(creative_types)
        pins = self._items(path, None, limits.PAGE_SIZE_MAX, None, Pin, sized=True)
        return matching(pins, lambda pin: pin.creative_type in wanted, limit=limit)

    def list_pins(
        self,
        *,
        creative_types: Sequence[str] | None = None,
        pin_filter: str | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[Pin]:
        """Every Pin the account owns, on any board."""
        limits.check_choices("creative_types", creative_types, limits.CREATIVE_TYPES)
        limits.check_choice("pin_filter", pin_filter, limits.PIN_FILTERS)
        params = {"creative_types": list(creative_types or []), "pin_filter": pin_filter}
        return self.paginate("/pins", params=params, limit=limit, model=Pin)

    def search_pins(self, query: str, *, limit: int | None = None) -> AsyncIterator[Pin]:
        """The account's Pins matching ``query`` (keywords, or comma-separated Pin ids)."""
        if not isinstance(query, str) or not query.strip():
            raise InputError("query", "required (keywords or Pin ids to search for)")
        return self._items(
            "/search/pins", {"query": query}, limits.PAGE_SIZE_MAX, limit, Pin, sized=False
        )

    async def get_pin(self, pin_id: str) -> Pin:
        limits.check_id("pin_id", pin_id)
        return await self._fetch(Pin, "GET", f"/pins/{pin_id}")

    async def create_pin(self, body: Mapping[str, Any]) -> Pin:
        """Create a Pin from a ``PinCreate`` body (checked against the API's limits first)."""
        limits.check_pin_create(body)
        return await self._fetch(Pin, "POST", "/pins", json=dict(body))

    async def update_pin(self, pin_id: str, body: Mapping[str, Any]) -> Pin:
        """Change a Pin with a ``PinUpdate`` body (a beta operation, not open to every app)."""
        limits.check_id("pin_id", pin_id)
        limits.check_pin_update(body)
        return await self._fetch(Pin, "PATCH", f"/pins/{pin_id}", json=dict(body))

    async def delete_pin(self, pin_id: str) -> None:
        limits.check_id("pin_id", pin_id)
        await self.request("DELETE", f"/pins/{pin_id}")

    async def save_pin(
        self, pin_id: str, *, board_id: str | None = None, board_section_id: str | None = None
    ) -> Pin:
        """Save any public Pin to one of the account's boards (or a section of it)."""
        limits.check_id("board_id", board_id)
        limits.check_id("board_section_id", board_section_id)
        body = _present({"board_id": board_id, "board_section_id": board_section_id})
        path = f"/pins/{_segment(pin_id, 'pin_id')}/save"
        return await self._fetch(Pin, "POST", path, json=body)

    # -- media ---------------------------------------------------------------------------------

    async def register_media(self) -> MediaUpload:
        """Register a video upload; then :meth:`upload_media` and :meth:`wait_for_media`."""
        return await self._fetch(MediaUpload, "POST", "/media", json={"media_type": "video"})

    async def upload_media(
        self, upload: MediaUpload, data: bytes, *, filename: str, content_type: str
    ) -> None:
        """POST the file to the upload URL with every upload parameter (no Pinterest token)."""
        if not upload.upload_url:
            raise ServiceError(f"media {upload.media_id} has no upload URL")
        form = aiohttp.FormData()
        for key, value in (upload.upload_parameters or {}).items():
            form.add_field(key, value)
        form.add_field("file", data, filename=filename, content_type=content_type)
        # The upload URL is not Pinterest's API: no token, no quota, no circuit.
        await self._api.transport.send("POST", upload.upload_url, data=form, expect_json=False)

    async def get_media(self, media_id: str) -> Media:
        limits.check_id("media_id", media_id)
        return await self._fetch(Media, "GET", f"/media/{media_id}")

    async def wait_for_media(
        self,
        media_id: str,
        *,
        timeout: float = 300,
        first_delay: float = 1,
        max_delay: float = 10,
    ) -> Media:
        """Poll until the upload reads ``succeeded``; the delay doubles up to ``max_delay``.

        Raises :class:`MediaFailedError` when it reads ``failed`` and
        :class:`MediaNotReadyError` when it is not done after ``timeout`` seconds.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        delay = first_delay
        while True:
            media = await self.get_media(media_id)
            if media.status == "succeeded":
                return media
            if media.status == "failed":
                raise MediaFailedError(f"Pinterest could not process the video of media {media_id}")
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise MediaNotReadyError(
                    f"media {media_id} is still {media.status or 'not ready'} after {timeout:g} s",
                    media_id=media_id,
                )
            await asyncio.sleep(min(delay, remaining))
            delay = min(delay * 2, max_delay)


def _read(model: type[M], data: Any, request: str) -> M:
    """``data`` as ``model``; an answer of another shape is a :class:`ServiceError`."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "the body"
        problem = f"{where}: {first['msg']}"
    # Raised outside the handler: pydantic's message quotes the data it refused.
    raise ServiceError(f"{request}: the answer is not a valid {model.__name__} ({problem})")


def _present(body: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of ``body`` that have a value."""
    return {key: value for key, value in body.items() if value is not None}
