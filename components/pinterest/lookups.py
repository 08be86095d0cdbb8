"""Finding the Pin, board or section an uncertain create may have made.

See :mod:`runtime.connector.idempotent` for how an uncertain create is resolved.

Each lookup reads a listing (no search index, which may lag behind a create) as far back as the
first attempt, less :data:`~runtime.connector.idempotent.CLOCK_SKEW`, in pages of 250
(:func:`~runtime.connector.idempotent.made_since`: it stops early only once the listing proved
newest first),
and compares what the create sent with what Pinterest answers:

- **Pins**: the Pins of the board (or of the section) made at or after the first attempt (less
  the skew), in the same section, with the same title, description, link and alt text (where
  sent) and the same kind of media. Image addresses are compared when the answer shows them
  on the source's host (the emulator repeats the address); Pinterest copies images to its own
  servers, and then the other fields and the time decide. An image's bytes (``imageBase64``)
  and a video cannot be compared: Pinterest answers neither the bytes nor the media id, only
  its own copy. Carousels compare the number of images and each image's text and address;
  videos their cover address.
- **Boards**: the account's boards of the same privacy with the same name (and description,
  where sent), made at or after the first attempt.
- **Sections**: the sections of the board with the same name; sections carry no creation
  time, so the whole list is read and a section of that name made before is taken for the one
  sent.

Each gives a :class:`~runtime.connector.resolution.Lookup`: every match, and where an operator
should look.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from components.pinterest.connector import PINTEREST
from runtime.connector.idempotent import created_since, made_since
from runtime.connector.resolution import Lookup

if TYPE_CHECKING:
    from components.pinterest.client import PinterestClient
    from components.pinterest.models import Board, BoardSection, Pin, PinMedia
    from runtime.effects import Effect

PIN_TEXTS: Final = (
    ("title", "title"),
    ("description", "description"),
    ("link", "link"),
    ("altText", "alt_text"),
)
_MEDIA_TYPES: Final = {
    "imageUrl": "image",
    "imageBase64": "image",
    "images": "multiple_images",
    "videoUrl": "video",
}


def _same_text(sent: Any, answered: Any) -> bool:
    """Text that was not sent is not compared; empty and absent are the same."""
    return sent is None or (sent or None) == (answered or None)


def _same_image(answered: list[Any], source: str) -> bool:
    """False only when the answer shows other images on the source's own host."""
    urls = [url for url in answered if isinstance(url, str) and url]
    if not urls or source in urls:
        return True
    host = urlsplit(source).netloc
    return all(urlsplit(url).netloc != host for url in urls)


def _same_section(sent: str | None, shown: str | None) -> bool:
    """A Pin sent to no section must show none; one sent to a section may omit it."""
    return shown is None if sent is None else shown in (None, sent)


def _image_urls(images: Any) -> list[Any]:
    """The addresses of an ``ImageSize`` object (``{"150x150": {"url": ...}, ...}``)."""
    if not isinstance(images, Mapping):
        return []
    return [size.get("url") for size in images.values() if isinstance(size, Mapping)]


def _same_slides(items: Any, sent: list[Mapping[str, Any]]) -> bool:
    if not isinstance(items, list):
        return True
    if len(items) != len(sent):
        return False
    for item, wanted in zip(items, sent, strict=True):
        if not isinstance(item, Mapping):
            continue
        if not all(
            _same_text(wanted.get(n), item.get(n)) for n in ("title", "description", "link")
        ):
            return False
        if not _same_image(_image_urls(item.get("images")), wanted["url"]):
            return False
    return True


def same_media(media: PinMedia | None, message: Mapping[str, Any], kind: str) -> bool:
    """Whether a Pin's ``media`` may have been made from ``message``'s media of ``kind``."""
    if media is None or media.media_type is None:
        return True
    if media.media_type != _MEDIA_TYPES[kind]:
        return False
    shown = media.model_extra or {}
    if kind == "imageUrl":
        return _same_image(_image_urls(shown.get("images")), message["imageUrl"])
    if kind == "images":
        return _same_slides(shown.get("items"), message["images"])
    cover = message.get("coverImageUrl")
    if kind == "videoUrl" and cover is not None:
        return _same_image([shown.get("cover_image_url")], cover)
    return True


def same_pin(pin: Pin, message: Mapping[str, Any], kind: str, since: float | None) -> bool:
    """Whether ``pin`` may be the Pin an attempt first sent at ``since`` made of ``message``."""
    return (
        created_since(pin.created_at, since)
        and _same_section(message.get("boardSectionId"), pin.board_section_id)
        and all(_same_text(message.get(name), getattr(pin, api)) for name, api in PIN_TEXTS)
        and same_media(pin.media, message, kind)
    )


def pin_lookup(
    client: PinterestClient, effect: Effect, message: Mapping[str, Any], kind: str
) -> Lookup[Pin]:
    board, section = message["boardId"], message.get("boardSectionId")

    async def find() -> list[Pin]:
        since = effect.first_sent_at
        pins = client.list_board_pins(board, section_id=section)
        return await made_since(pins, since, lambda pin: same_pin(pin, message, kind, since))

    where = f"board {board}" if section is None else f"section {section} of board {board}"
    return Lookup(find, where, PINTEREST.label)


def board_lookup(
    client: PinterestClient, effect: Effect, name: str, description: str | None, privacy: str
) -> Lookup[Board]:
    def same(board: Board) -> bool:
        return (
            board.name == name
            and board.privacy in (None, privacy)
            and _same_text(description, board.description)
            and created_since(board.created_at, effect.first_sent_at)
        )

    async def find() -> list[Board]:
        return await made_since(client.list_boards(privacy=privacy), effect.first_sent_at, same)

    return Lookup(find, f"the account's {privacy} boards", PINTEREST.label)


def section_lookup(client: PinterestClient, board_id: str, name: str) -> Lookup[BoardSection]:
    async def find() -> list[BoardSection]:
        sections = client.list_board_sections(board_id)
        return await made_since(sections, None, lambda section: section.name == name)

    return Lookup(find, f"the sections of board {board_id}", PINTEREST.label)
