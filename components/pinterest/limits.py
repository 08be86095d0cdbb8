"""The API's input limits, checked before sending so a bad input fails with the field named.

The numbers, patterns and choices are those of Pinterest's OpenAPI description (5.23.0);
``tests/pinterest/test_limits.py`` compares each one with the description. Every check raises
:class:`~runtime.connector.errors.InputError`, e.g.
``title: 101 characters, at most 100 allowed``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from runtime.connector.errors import InputError

PIN_TEXT_MAX_LENGTHS: Final[Mapping[str, int]] = {
    "title": 100,
    "description": 800,
    "link": 2048,
    "alt_text": 500,
}
"""Maximum characters of the text fields of ``PinCreate`` and ``PinUpdate``."""

PIN_ID_FIELDS: Final = ("board_id", "board_section_id", "parent_pin_id", "sponsor_id")
"""Fields of ``PinCreate`` that hold ids (``PinUpdate`` has the first two)."""

SECTION_NAME_MIN: Final = 1
SECTION_NAME_MAX: Final = 180
ID_PATTERN: Final = r"^\d+$"
BASE64_PATTERN: Final = r"^[a-zA-Z0-9+/=]+$"
BOARD_PRIVACY: Final = ("PUBLIC", "PROTECTED", "SECRET")
"""Privacy of a new board (``BoardCreate``); the default is ``PUBLIC``."""
BOARD_UPDATE_PRIVACY: Final = ("PUBLIC", "SECRET")
"""Privacy a board can be changed to (``BoardUpdatePrivacy``)."""
BOARD_PRIVACY_FILTER: Final = ("ALL", "PUBLIC", "PROTECTED", "SECRET", "PUBLIC_AND_SECRET")
"""The ``privacy`` filter of ``GET /boards``."""
CREATIVE_TYPES: Final = (
    "REGULAR",
    "VIDEO",
    "SHOPPING",
    "CAROUSEL",
    "MAX_VIDEO",
    "SHOP_THE_PIN",
    "COLLECTION",
    "IDEA",
    "SHOWCASE",
    "QUIZ",
    "COLLAGE",
    "MAX_WIDTH_REGULAR_COLLECTION",
    "MAX_WIDTH_VIDEO_COLLECTION",
)
PIN_FILTERS: Final = ("exclude_native", "exclude_repins", "has_been_promoted")
"""The ``pin_filter`` of ``GET /pins``."""
IMAGE_CONTENT_TYPES: Final = ("image/jpeg", "image/png")
MEDIA_SOURCE_TYPES: Final = (
    "image_base64",
    "image_url",
    "video_id",
    "multiple_image_base64",
    "multiple_image_urls",
    "pin_url",
)
"""The ``source_type`` of each ``PinMediaSource`` variant."""
MEDIA_SOURCE_REQUIRED: Final[Mapping[str, tuple[str, ...]]] = {
    "image_base64": ("content_type", "data"),
    "image_url": ("url",),
    "video_id": ("media_id",),
    "multiple_image_base64": ("items",),
    "multiple_image_urls": ("items",),
    "pin_url": (),
}
"""Fields each variant requires besides ``source_type``."""
CAROUSEL_MIN_ITEMS: Final = 2
CAROUSEL_MAX_ITEMS: Final = 5
CAROUSEL_ITEM_REQUIRED: Final[Mapping[str, tuple[str, ...]]] = {
    "multiple_image_base64": ("content_type", "data"),
    "multiple_image_urls": ("url",),
}
PAGE_SIZE_MIN: Final = 1
PAGE_SIZE_MAX: Final = 250

_ID = re.compile(ID_PATTERN)
_BASE64 = re.compile(BASE64_PATTERN)
_SHOWN: Final = 40  # characters of a refused value quoted back in a message


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def _kind(value: Any) -> str:
    kinds = {
        bool: "true/false",
        int: "a number",
        float: "a number",
        list: "a list",
        dict: "an object",
    }
    return kinds.get(type(value), type(value).__name__)


def check_text(field: str, value: Any, *, max_length: int, min_length: int = 0) -> None:
    """``value`` is None or text of ``min_length`` to ``max_length`` characters."""
    if value is None:
        return
    if not isinstance(value, str):
        raise InputError(field, f"must be text, not {_kind(value)}")
    if len(value) > max_length:
        raise InputError(field, f"{len(value)} characters, at most {max_length} allowed")
    if len(value) < min_length:
        raise InputError(field, f"{len(value)} characters, at least {min_length} needed")


def check_id(field: str, value: Any) -> None:
    """``value`` is None or an id: digits only, like ``"1234"``."""
    if value is None:
        return
    if not isinstance(value, str):
        raise InputError(field, f'must be an id as text, like "1234", not {_kind(value)}')
    if not _ID.match(value):
        raise InputError(field, f"must be an id made of digits only, not {_shown(value)}")


def check_choice(field: str, value: Any, choices: Sequence[str]) -> None:
    """``value`` is None or one of ``choices``."""
    if value is not None and value not in choices:
        raise InputError(field, f"{_shown(value)} is not one of {', '.join(choices)}")


def check_choices(field: str, values: Iterable[Any] | None, choices: Sequence[str]) -> None:
    """Every value is one of ``choices``."""
    for index, value in enumerate(values or ()):
        check_choice(f"{field}[{index}]", value, choices)


def check_page_size(page_size: Any) -> None:
    """``page_size`` is a whole number from 1 to 250."""
    if (
        not isinstance(page_size, int)
        or isinstance(page_size, bool)
        or not PAGE_SIZE_MIN <= page_size <= PAGE_SIZE_MAX
    ):
        raise InputError(
            "page_size", f"{_shown(page_size)} is not a whole number from 1 to {PAGE_SIZE_MAX}"
        )


def check_limit(limit: Any, *, required: bool = False) -> None:
    """``limit`` is a whole number of at least 1, or None (no limit) unless ``required``."""
    if limit is None and not required:
        return
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise InputError("limit", f"must be a whole number of at least 1, not {_shown(limit)}")


def check_section_name(name: Any, field: str = "name") -> None:
    """A board section name: 1 to 180 characters."""
    if name is None:
        raise InputError(field, "required (the section's name)")
    check_text(field, name, max_length=SECTION_NAME_MAX, min_length=SECTION_NAME_MIN)


def _object(field: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InputError(field, f"must be an object, not {_kind(value)}")
    return value


def _required(field: str, body: Mapping[str, Any], names: Iterable[str]) -> None:
    for name in names:
        if body.get(name) in (None, ""):
            raise InputError(f"{field}.{name}", "required")


def _check_image(field: str, body: Mapping[str, Any], content_type_key: str, data_key: str) -> None:
    check_choice(f"{field}.{content_type_key}", body.get(content_type_key), IMAGE_CONTENT_TYPES)
    data = body.get(data_key)
    if data is not None and (not isinstance(data, str) or not _BASE64.match(data)):
        raise InputError(
            f"{field}.{data_key}", "must be base64 text (letters, digits, '+', '/' and '=' only)"
        )


def _check_non_negative(field: str, value: Any) -> None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        raise InputError(field, f"must be a whole number of at least 0, not {_shown(value)}")


def check_media_source(source: Any, field: str = "media_source") -> None:
    """A ``PinMediaSource``: a known ``source_type`` and that variant's fields."""
    source = _object(field, source)
    source_type = source.get("source_type")
    if source_type is None:
        raise InputError(f"{field}.source_type", "required")
    check_choice(f"{field}.source_type", source_type, MEDIA_SOURCE_TYPES)
    _required(field, source, MEDIA_SOURCE_REQUIRED[source_type])
    if source_type == "image_base64":
        _check_image(field, source, "content_type", "data")
    elif source_type == "video_id":
        check_id(f"{field}.media_id", source.get("media_id"))
        _check_image(field, source, "cover_image_content_type", "cover_image_data")
        _check_non_negative(
            f"{field}.cover_image_key_frame_time", source.get("cover_image_key_frame_time")
        )
    elif source_type in CAROUSEL_ITEM_REQUIRED:
        _check_non_negative(f"{field}.index", source.get("index"))
        items = source["items"]
        if not isinstance(items, list):
            raise InputError(f"{field}.items", f"must be a list, not {_kind(items)}")
        if not CAROUSEL_MIN_ITEMS <= len(items) <= CAROUSEL_MAX_ITEMS:
            raise InputError(
                f"{field}.items",
                f"{len(items)} images, a carousel takes {CAROUSEL_MIN_ITEMS} to "
                f"{CAROUSEL_MAX_ITEMS}",
            )
        for index, item in enumerate(items):
            item_field = f"{field}.items[{index}]"
            item = _object(item_field, item)
            _required(item_field, item, CAROUSEL_ITEM_REQUIRED[source_type])
            if source_type == "multiple_image_base64":
                _check_image(item_field, item, "content_type", "data")


def _check_pin_fields(body: Mapping[str, Any], id_fields: Sequence[str]) -> None:
    for name, max_length in PIN_TEXT_MAX_LENGTHS.items():
        check_text(name, body.get(name), max_length=max_length)
    for name in id_fields:
        check_id(name, body.get(name))


def check_pin_create(body: Any) -> None:
    """A ``PinCreate`` body; ``board_id`` and ``media_source`` are required in practice."""
    body = _object("pin", body)
    for name, why in (("board_id", "the board the Pin goes on"), ("media_source", "the image")):
        if body.get(name) is None:
            raise InputError(name, f"required ({why})")
    _check_pin_fields(body, PIN_ID_FIELDS)
    check_media_source(body["media_source"])


def check_pin_update(body: Any) -> None:
    """A ``PinUpdate`` body (every field optional)."""
    body = _object("pin", body)
    _check_pin_fields(body, PIN_ID_FIELDS[:2])
    slots = body.get("carousel_slots")
    if slots is not None:
        if not isinstance(slots, list):
            raise InputError("carousel_slots", f"must be a list, not {_kind(slots)}")
        for index, slot in enumerate(slots):
            _object(f"carousel_slots[{index}]", slot)


def check_board(
    *,
    name: Any,
    description: Any,
    privacy: Any,
    privacy_choices: Sequence[str],
    name_required: bool = False,
) -> None:
    """A board's fields on create (``BOARD_PRIVACY``) or update (``BOARD_UPDATE_PRIVACY``)."""
    if name is None and name_required:
        raise InputError("name", "required (the board's name)")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise InputError("name", "must be non-empty text")
    if description is not None and not isinstance(description, str):
        raise InputError("description", f"must be text, not {_kind(description)}")
    check_choice("privacy", privacy, privacy_choices)
