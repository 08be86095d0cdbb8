"""Input limits: our constants equal the OpenAPI description's, and bad inputs name their field."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.pinterest import limits
from components.pinterest.client import PinterestClient
from runtime.connector.errors import InputError
from tests.pinterest.openapi import spec_missing, spec_path
from tests.pinterest.stub_api import StubApi, SwappingCredentials


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    """Pinterest's OpenAPI description as raw JSON, read once for the module."""
    path = spec_path()
    if not path.exists():
        spec_missing("limits cannot be compared to it")
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def schema(document: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = document["components"]["schemas"][name]
    return found


def resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow a ``$ref`` or a one-element ``allOf`` to the schema it names."""
    while True:
        if "$ref" in node:
            node = schema(document, node["$ref"].rsplit("/", 1)[-1])
        elif len(node.get("allOf", [])) == 1:
            node = node["allOf"][0]
        else:
            return node


def parameter(document: dict[str, Any], path: str, method: str, name: str) -> dict[str, Any]:
    for param in document["paths"][path][method]["parameters"]:
        param = resolve_parameter(document, param)
        if param["name"] == name:
            return resolve(document, param["schema"])
    raise AssertionError(f"{method.upper()} {path} has no parameter {name}")


def resolve_parameter(document: dict[str, Any], param: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in param:
        found: dict[str, Any] = document["components"]["parameters"][
            param["$ref"].rsplit("/", 1)[-1]
        ]
        return found
    return param


def max_lengths(document: dict[str, Any], name: str) -> dict[str, int]:
    props = schema(document, name)["properties"]
    return {key: p["maxLength"] for key, p in props.items() if "maxLength" in p}


def id_fields(document: dict[str, Any], name: str) -> set[str]:
    props = schema(document, name)["properties"]
    return {key for key, p in props.items() if p.get("pattern") == limits.ID_PATTERN}


# -- the constants are the description's ------------------------------------------------------


@pytest.mark.parametrize("name", ["PinCreate", "PinUpdate"])
def test_pin_text_limits_are_the_descriptions(document, name):
    assert max_lengths(document, name) == dict(limits.PIN_TEXT_MAX_LENGTHS)


def test_pin_id_fields_are_those_with_the_id_pattern(document):
    assert id_fields(document, "PinCreate") == set(limits.PIN_ID_FIELDS)
    assert id_fields(document, "PinUpdate") == set(limits.PIN_ID_FIELDS[:2])


def test_section_name_length_is_the_descriptions(document):
    name = schema(document, "BoardSection")["properties"]["name"]
    assert (name["minLength"], name["maxLength"]) == (
        limits.SECTION_NAME_MIN,
        limits.SECTION_NAME_MAX,
    )


def test_board_privacy_choices_are_the_descriptions(document):
    create = resolve(document, schema(document, "BoardCreate")["properties"]["privacy"])
    update = resolve(
        document, schema(document, "BoardWithUpdatePrivacyUpdate")["properties"]["privacy"]
    )
    listed = parameter(document, "/boards", "get", "privacy")

    assert tuple(create["enum"]) == limits.BOARD_PRIVACY
    assert tuple(update["enum"]) == limits.BOARD_UPDATE_PRIVACY
    assert tuple(listed["enum"]) == limits.BOARD_PRIVACY_FILTER


def test_pin_list_filters_are_the_descriptions(document):
    creative = parameter(document, "/pins", "get", "creative_types")
    pin_filter = parameter(document, "/pins", "get", "pin_filter")

    assert tuple(resolve(document, creative["items"])["enum"]) == limits.CREATIVE_TYPES
    assert tuple(pin_filter["enum"]) == limits.PIN_FILTERS


def test_media_source_variants_and_their_required_fields_are_the_descriptions(document):
    mapping = schema(document, "PinMediaSource")["discriminator"]["mapping"]

    assert set(mapping) == set(limits.MEDIA_SOURCE_TYPES)
    for source_type, ref in mapping.items():
        variant = resolve(document, {"$ref": ref})
        assert variant["properties"]["source_type"]["enum"] == [source_type]
        required = set(variant["required"]) - {"source_type"}
        assert required == set(limits.MEDIA_SOURCE_REQUIRED[source_type]), source_type


@pytest.mark.parametrize("variant", ["PinMediaSourceImagesURL", "PinMediaSourceImagesBase64"])
def test_carousel_item_counts_and_item_fields_are_the_descriptions(document, variant):
    items = schema(document, variant)["properties"]["items"]
    source_type = schema(document, variant)["properties"]["source_type"]["enum"][0]

    assert (items["minItems"], items["maxItems"]) == (
        limits.CAROUSEL_MIN_ITEMS,
        limits.CAROUSEL_MAX_ITEMS,
    )
    item = resolve(document, items["items"])
    assert tuple(item["required"]) == limits.CAROUSEL_ITEM_REQUIRED[source_type]


def test_image_content_types_and_the_base64_pattern_are_the_descriptions(document):
    base64 = schema(document, "PinMediaSourceImageBase64")["properties"]
    item = schema(document, "PinMediaSourceImagesBase64Item")["properties"]
    video = schema(document, "PinMediaSourceVideoID")["properties"]

    assert tuple(schema(document, "ContentType")["enum"]) == limits.IMAGE_CONTENT_TYPES
    assert tuple(resolve(document, video["cover_image_content_type"])["enum"]) == (
        limits.IMAGE_CONTENT_TYPES
    )
    assert base64["data"]["pattern"] == item["data"]["pattern"] == limits.BASE64_PATTERN
    assert video["media_id"]["pattern"] == limits.ID_PATTERN


@pytest.mark.parametrize(
    ("path", "method"),
    [("/boards", "get"), ("/pins", "get"), ("/boards/{board_id}/pins", "get")],
    ids=["boards", "pins", "board-pins"],
)
def test_page_size_bounds_are_the_descriptions(document, path, method):
    page_size = parameter(document, path, method, "page_size")
    assert (page_size["minimum"], page_size["maximum"]) == (
        limits.PAGE_SIZE_MIN,
        limits.PAGE_SIZE_MAX,
    )


def test_search_pins_has_no_page_size_so_the_client_sends_none(document):
    names = {
        resolve_parameter(document, p)["name"]
        for p in document["paths"]["/search/pins"]["get"]["parameters"]
    }
    assert "page_size" not in names
    assert "bookmark" in names


def test_the_only_media_type_to_register_is_video(document):
    assert schema(document, "MediaUploadType")["enum"] == ["video"]


# -- bad inputs name their field --------------------------------------------------------------

IMAGE = {"source_type": "image_url", "url": "https://example.com/a.jpg"}


def pin(**fields: Any) -> dict[str, Any]:
    return {"board_id": "1", "media_source": IMAGE, **fields}


def carousel(source_type: str, count: int, **item: Any) -> dict[str, Any]:
    base = (
        {"url": "https://example.com/x.png"}
        if source_type == "multiple_image_urls"
        else {"content_type": "image/png", "data": "aGk="}
    )
    return {"source_type": source_type, "items": [{**base, **item} for _ in range(count)]}


BAD_PINS = [
    ("title-too-long", pin(title="t" * 101), "title", "101 characters, at most 100 allowed"),
    ("description-too-long", pin(description="d" * 801), "description", "801 characters"),
    ("link-too-long", pin(link="l" * 2049), "link", "2049 characters, at most 2048 allowed"),
    ("alt-text-too-long", pin(alt_text="a" * 501), "alt_text", "at most 500 allowed"),
    ("title-not-text", pin(title=5), "title", "must be text, not a number"),
    ("board-id-letters", pin(board_id="abc"), "board_id", "digits only, not 'abc'"),
    ("section-id-number", pin(board_section_id=7), "board_section_id", "as text, like"),
    ("parent-id-spaces", pin(parent_pin_id="1 2"), "parent_pin_id", "digits only"),
    ("no-board", {"media_source": IMAGE}, "board_id", "required"),
    ("no-media", {"board_id": "1"}, "media_source", "required"),
    ("media-not-object", pin(media_source="x"), "media_source", "must be an object"),
    ("no-source-type", pin(media_source={"url": "u"}), "media_source.source_type", "required"),
    (
        "unknown-source-type",
        pin(media_source={"source_type": "gif_url"}),
        "media_source.source_type",
        "'gif_url' is not one of image_base64, image_url",
    ),
    (
        "image-url-without-url",
        pin(media_source={"source_type": "image_url"}),
        "media_source.url",
        "required",
    ),
    (
        "base64-wrong-content-type",
        pin(media_source={"source_type": "image_base64", "content_type": "image/gif", "data": "a"}),
        "media_source.content_type",
        "'image/gif' is not one of image/jpeg, image/png",
    ),
    (
        "base64-bad-data",
        pin(
            media_source={"source_type": "image_base64", "content_type": "image/png", "data": "a b"}
        ),
        "media_source.data",
        "must be base64 text",
    ),
    (
        "video-without-media-id",
        pin(media_source={"source_type": "video_id"}),
        "media_source.media_id",
        "required",
    ),
    (
        "video-bad-media-id",
        pin(media_source={"source_type": "video_id", "media_id": "m1"}),
        "media_source.media_id",
        "digits only",
    ),
    (
        "video-negative-key-frame",
        pin(
            media_source={
                "source_type": "video_id",
                "media_id": "1",
                "cover_image_key_frame_time": -1,
            }
        ),
        "media_source.cover_image_key_frame_time",
        "at least 0",
    ),
    (
        "video-cover-bad-type",
        pin(
            media_source={
                "source_type": "video_id",
                "media_id": "1",
                "cover_image_content_type": "image/webp",
                "cover_image_data": "aGk=",
            }
        ),
        "media_source.cover_image_content_type",
        "not one of image/jpeg, image/png",
    ),
    (
        "carousel-of-one",
        pin(media_source=carousel("multiple_image_urls", 1)),
        "media_source.items",
        "1 images, a carousel takes 2 to 5",
    ),
    (
        "carousel-of-six",
        pin(media_source=carousel("multiple_image_base64", 6)),
        "media_source.items",
        "6 images, a carousel takes 2 to 5",
    ),
    (
        "carousel-item-without-url",
        pin(media_source=carousel("multiple_image_urls", 2, url=None)),
        "media_source.items[0].url",
        "required",
    ),
    (
        "carousel-item-bad-data",
        pin(media_source=carousel("multiple_image_base64", 3, data="@@")),
        "media_source.items[0].data",
        "must be base64 text",
    ),
    (
        "carousel-negative-index",
        pin(media_source={**carousel("multiple_image_urls", 2), "index": -1}),
        "media_source.index",
        "at least 0",
    ),
]


@pytest.mark.parametrize(
    ("body", "field", "problem"), [b[1:] for b in BAD_PINS], ids=[b[0] for b in BAD_PINS]
)
def test_a_bad_pin_is_refused_naming_the_field(body, field, problem):
    with pytest.raises(InputError) as raised:
        limits.check_pin_create(body)

    assert raised.value.field == field
    assert problem in str(raised.value)
    assert str(raised.value).startswith(f"{field}: ")


BASE64_IMAGE = {"source_type": "image_base64", "content_type": "image/jpeg", "data": "aGk="}
VIDEO = {"source_type": "video_id", "media_id": "12", "cover_image_url": "u"}
GOOD_PINS = [
    ("image-url", pin(title="t" * 100, description="d" * 800, link="l" * 2048, alt_text="a" * 500)),
    ("image-base64", pin(media_source=BASE64_IMAGE)),
    ("video", pin(media_source=VIDEO)),
    ("carousel-2", pin(media_source=carousel("multiple_image_urls", 2))),
    ("carousel-5", pin(media_source=carousel("multiple_image_base64", 5))),
    ("pin-url", pin(media_source={"source_type": "pin_url"})),
    ("nulls", pin(title=None, board_section_id=None, link=None)),
]


@pytest.mark.parametrize("body", [g[1] for g in GOOD_PINS], ids=[g[0] for g in GOOD_PINS])
def test_a_pin_within_every_limit_passes(body):
    limits.check_pin_create(body)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "x" * 101}, "title"),
        ({"board_id": "b"}, "board_id"),
        ({"carousel_slots": {"title": "x"}}, "carousel_slots"),
        ({"carousel_slots": ["x"]}, "carousel_slots[0]"),
    ],
    ids=["title", "board-id", "slots-not-a-list", "slot-not-an-object"],
)
def test_a_bad_pin_update_is_refused_naming_the_field(body, field):
    with pytest.raises(InputError) as raised:
        limits.check_pin_update(body)
    assert raised.value.field == field


def test_a_pin_update_may_change_nothing_but_one_field():
    limits.check_pin_update({"title": "new", "carousel_slots": [{"title": "a"}]})


@given(
    field=st.sampled_from(sorted(limits.PIN_TEXT_MAX_LENGTHS)),
    delta=st.integers(min_value=-3, max_value=3),
    char=st.characters(codec="utf-8"),
)
def test_pin_text_is_accepted_exactly_up_to_its_limit(field, delta, char):
    maximum = limits.PIN_TEXT_MAX_LENGTHS[field]
    value = char * (maximum + delta)

    if delta <= 0:
        limits.check_pin_create(pin(**{field: value}))
        limits.check_pin_update({field: value})
    else:
        with pytest.raises(InputError, match=f"at most {maximum} allowed"):
            limits.check_pin_create(pin(**{field: value}))


@given(name=st.text(max_size=limits.SECTION_NAME_MAX + 3))
def test_a_section_name_is_accepted_from_1_to_180_characters(name):
    if limits.SECTION_NAME_MIN <= len(name) <= limits.SECTION_NAME_MAX:
        limits.check_section_name(name)
    else:
        with pytest.raises(InputError, match=r"^name: "):
            limits.check_section_name(name)


@pytest.mark.parametrize(
    ("kwargs", "field", "problem"),
    [
        ({"name": None, "name_required": True}, "name", "required"),
        ({"name": "  "}, "name", "non-empty text"),
        ({"name": "a", "description": 3}, "description", "must be text"),
        ({"name": "a", "privacy": "FRIENDS"}, "privacy", "'FRIENDS' is not one of PUBLIC"),
    ],
    ids=["no-name", "blank-name", "description-number", "unknown-privacy"],
)
def test_a_bad_board_is_refused_naming_the_field(kwargs, field, problem):
    arguments = {"description": None, "privacy": None, **kwargs}
    with pytest.raises(InputError) as raised:
        limits.check_board(privacy_choices=limits.BOARD_PRIVACY, **arguments)
    assert raised.value.field == field
    assert problem in str(raised.value)


def test_a_refused_value_is_quoted_short():
    with pytest.raises(InputError) as raised:
        limits.check_id("board_id", "x" * 500)
    assert len(str(raised.value)) < 100


# -- the client checks before sending ---------------------------------------------------------


@pytest.fixture
async def client_and_stub():
    async with StubApi().running() as stub, aiohttp.ClientSession() as session:
        yield (
            PinterestClient.connect(session, SwappingCredentials("pina_t"), api_base=stub.base),
            stub,
        )


CALLS = [
    ("create-pin", lambda c: c.create_pin(pin(title="x" * 101)), "title"),
    ("update-pin", lambda c: c.update_pin("1", {"alt_text": "x" * 501}), "alt_text"),
    ("get-pin", lambda c: c.get_pin("../boards"), "pin_id"),
    ("get-board", lambda c: c.get_board("1/pins"), "board_id"),
    ("create-board", lambda c: c.create_board(name="b", privacy="OPEN"), "privacy"),
    ("update-board-protected", lambda c: c.update_board("1", privacy="PROTECTED"), "privacy"),
    ("update-board-nothing", lambda c: c.update_board("1"), "board"),
    ("create-section", lambda c: c.create_board_section("1", ""), "name"),
    ("update-section", lambda c: c.update_board_section("1", "2", "s" * 181), "name"),
    ("delete-section", lambda c: c.delete_board_section("1", "x"), "section_id"),
    ("save-pin", lambda c: c.save_pin("1", board_id="x"), "board_id"),
    ("save-pin-no-id", lambda c: c.save_pin(""), "pin_id"),
    ("get-media", lambda c: c.get_media("abc"), "media_id"),
]


@pytest.mark.parametrize(("call", "field"), [c[1:] for c in CALLS], ids=[c[0] for c in CALLS])
async def test_the_client_refuses_a_bad_input_before_sending_anything(client_and_stub, call, field):
    client, stub = client_and_stub

    with pytest.raises(InputError) as raised:
        await call(client)

    assert raised.value.field == field
    assert stub.seen == []


LISTS = [
    ("boards-privacy", lambda c: c.list_boards(privacy="HIDDEN"), "privacy"),
    ("pins-filter", lambda c: c.list_pins(pin_filter="mine"), "pin_filter"),
    ("pins-creative", lambda c: c.list_pins(creative_types=["GIF"]), "creative_types[0]"),
    ("board-pins-id", lambda c: c.list_board_pins("b"), "board_id"),
    ("sections-id", lambda c: c.list_board_sections("b"), "board_id"),
    ("search-empty", lambda c: c.search_pins(" "), "query"),
]


@pytest.mark.parametrize(("call", "field"), [c[1:] for c in LISTS], ids=[c[0] for c in LISTS])
async def test_a_list_with_a_bad_filter_is_refused_when_asked_for(client_and_stub, call, field):
    client, stub = client_and_stub

    with pytest.raises(InputError) as raised:
        call(client)

    assert raised.value.field == field
    assert stub.seen == []
