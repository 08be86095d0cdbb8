"""Pins, boards and sections are made once per effect, whatever the connection does.

The flows run against the emulator on the real clock (a lookup compares Pinterest's
``created_at`` with when the first attempt was sent). Faults: ``drop_after`` makes the
object and then closes the connection without an answer; ``drop_before`` closes it having done
nothing; ``error`` answers 5xx having done nothing. The connector cannot tell these apart, so
each makes the next attempt look for the object first.
"""

from __future__ import annotations

import base64
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from components.pinterest.emulator import FaultPlan
from components.pinterest.lookups import same_pin
from components.pinterest.models import Pin
from runtime.auth.oauth2 import OAuth2Error
from runtime.circuit import Circuits
from runtime.connector.errors import (
    BadRequestError,
    ConflictError,
    ForbiddenError,
    InputError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    ServiceError,
    TransportError,
    UnauthorizedError,
)
from runtime.connector.idempotent import CLOCK_SKEW, may_have_taken_effect
from runtime.credentials import StaticCredentials
from runtime.engine import Engine, Output
from runtime.envelope import Envelope, new_id
from runtime.errors import ReauthorizeError, RetryError
from runtime.flow import validate_flow
from runtime.quota import QuotaWaitError
from runtime.stores import DeadLetter, MemoryStore, SQLiteStore, Store
from tests.pinterest.component_kit import SERVICE, registry, video_server
from tests.pinterest.emulator_harness import EmulatorHarness, MakeEmulator
from tests.pinterest.test_components_create_pin import png

RECIPES = "600000000000000001"
DESSERTS = "700000000000000001"
IMAGE = "https://images.example/soup.jpg"
REUSED = "reusing what an earlier attempt made"
SOUP = {"boardId": RECIPES, "imageUrl": IMAGE, "title": "Soup", "link": "https://x.invalid/s"}


@dataclass
class Run:
    """A running flow ``t``: push events, wait, read what left it."""

    engine: Engine
    store: Store
    outputs: list[Output] = field(default_factory=list)

    async def push_all(self, *events: Any) -> list[str]:
        pushed = [await self.engine.push("t", "hook", event) for event in events]
        await self.engine.wait_idle("t")
        return pushed

    def sent(self, component: str = "step") -> list[Any]:
        return [o.payload for o in self.outputs if o.component_id == component and o.port == "out"]


def one_step(name: str, transform: dict[str, Any] | None = None) -> dict[str, Any]:
    """A flow of a webhook wired to ``acme.pinterest.<name>`` as ``step``."""
    step: dict[str, Any] = {"type": f"acme.pinterest.{name}", "source": {"in": {"hook": ["out"]}}}
    if transform is not None:
        step["config"] = {"transform": {"in": transform}}
    return {"hook": {"type": "flowmixer.core.Webhook"}, "step": step}


@contextlib.asynccontextmanager
async def running(
    harness: EmulatorHarness,
    components: dict[str, Any],
    *,
    store: Store | None = None,
    max_attempts: int = 8,
    circuits: Circuits | None = None,
) -> AsyncIterator[Run]:
    credentials = StaticCredentials(SERVICE, harness.token(), settings={"apiBase": harness.api})
    flow = {
        "id": "t",
        "retry": {"maxAttempts": max_attempts, "baseDelay": 0.001, "maxDelay": 0.005},
        "components": components,
    }
    plan = validate_flow(flow, registry())
    store = store if store is not None else MemoryStore()
    outputs: list[Output] = []
    async with Engine(
        store,
        on_output=outputs.append,
        credentials=lambda wanted: credentials if wanted.auth is not None else None,
        circuits=circuits,
    ) as engine:
        await engine.start_flow(plan)
        yield Run(engine, store, outputs)


@pytest.fixture
async def live(make_emulator: MakeEmulator) -> AsyncIterator[EmulatorHarness]:
    """The emulator on the real clock."""
    async with make_emulator(clock=time.time) as harness:
        yield harness


def operations(harness: EmulatorHarness, since: int = 0) -> list[str]:
    return [e.operation_id for e in harness.exchanges[since:] if e.operation_id]


def pins_of(harness: EmulatorHarness, board_id: str = RECIPES) -> set[str]:
    return {p.id for p in harness.emu.state.pins.values() if p.board_id == board_id}


def boards_of(harness: EmulatorHarness) -> set[str]:
    return set(harness.emu.state.boards)


def sections_of(harness: EmulatorHarness) -> set[str]:
    return set(harness.emu.state.sections)


@dataclass(frozen=True)
class Case:
    component: str
    event: dict[str, Any]
    create: str
    lookup: str
    objects: Callable[[EmulatorHarness], set[str]]


CASES = {
    "a pin from an image address": Case(
        "CreatePin", SOUP, "pins/create", "boards/list_pins", pins_of
    ),
    "a pin in a section": Case(
        "CreatePin",
        {**SOUP, "boardSectionId": DESSERTS, "altText": "A bowl"},
        "pins/create",
        "board_sections/list_pins",
        pins_of,
    ),
    "a pin from image bytes": Case(
        "CreatePin",
        {
            "boardId": RECIPES,
            "imageBase64": base64.b64encode(png()).decode(),
            "contentType": "image/png",
            "title": "Pixel",
        },
        "pins/create",
        "boards/list_pins",
        pins_of,
    ),
    "a carousel pin": Case(
        "CreatePin",
        {
            "boardId": RECIPES,
            "title": "Steps",
            "images": [
                {"url": "https://images.example/1.jpg", "title": "One"},
                {"url": "https://images.example/2.jpg", "link": "https://x.invalid/2"},
            ],
        },
        "pins/create",
        "boards/list_pins",
        pins_of,
    ),
    "a board": Case(
        "CreateBoard",
        {"name": "Soups", "description": "Hot", "privacy": "SECRET"},
        "boards/create",
        "boards/list",
        boards_of,
    ),
    "a section": Case(
        "CreateBoardSection",
        {"boardId": RECIPES, "name": "Starters"},
        "board_sections/create",
        "board_sections/list",
        sections_of,
    ),
}


# -- an answer lost after the effect --------------------------------------------------------------


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
async def test_a_retry_after_the_answer_was_lost_reuses_the_object_the_first_attempt_made(
    live, case
):
    before = case.objects(live)
    live.emu.faults.set(FaultPlan(drop_after_rate=1.0, operations={case.create}, max_faults=1))
    with capture_logs() as logs:
        async with running(live, one_step(case.component)) as run:
            await run.push_all(case.event)

    [made] = case.objects(live) - before
    assert [sent["id"] for sent in run.sent()] == [made]
    assert operations(live) == [case.create, case.lookup]
    assert [e.dropped for e in live.exchanges if e.operation_id == case.create] == ["after"]
    assert await run.store.list_dead_letters() == []
    assert [e.get("object_id") for e in logs if e["event"] == REUSED] == [made]


@pytest.mark.parametrize(
    "fault",
    [{"drop_before_rate": 1.0}, {"error_rate": 1.0}],
    ids=["dropped before the effect", "a server error"],
)
@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
async def test_a_retry_after_a_failure_that_made_nothing_creates_the_object_once(live, case, fault):
    before = case.objects(live)
    live.emu.faults.set(FaultPlan(**fault, operations={case.create}, max_faults=1))
    async with running(live, one_step(case.component)) as run:
        await run.push_all(case.event)

    [made] = case.objects(live) - before
    assert [sent["id"] for sent in run.sent()] == [made]
    assert operations(live) == [case.create, case.lookup, case.create]


async def test_a_video_pin_whose_answer_was_lost_is_found_and_its_video_not_uploaded_again(live):
    async with video_server() as video:
        event = {"boardId": RECIPES, "videoUrl": video, "coverImageUrl": IMAGE, "title": "Clip"}
        before = pins_of(live)
        live.emu.faults.set(FaultPlan(drop_after_rate=1.0, operations={"pins/create"}))
        async with running(live, one_step("CreatePin")) as run:
            await run.push_all(event)

    [made] = pins_of(live) - before
    assert [sent["id"] for sent in run.sent()] == [made]
    assert operations(live) == ["media/create", "media/get", "pins/create", "boards/list_pins"]
    assert len(live.emu.state.media) == 1


async def test_a_video_still_processing_is_waited_for_again_not_uploaded_again(make_emulator):
    async with make_emulator(media_processing_seconds=3600) as harness, video_server() as video:
        gets = 0

        def finish_after_the_first_attempt(exchange: Any) -> None:
            nonlocal gets
            if exchange.operation_id == "media/get":
                gets += 1
                if gets == 2:  # the first attempt gives up after this answer
                    harness.clock.advance(3601)

        harness.emu.observe(finish_after_the_first_attempt)
        components = one_step("CreatePin")
        components["step"]["config"] = {"properties": {"videoTimeout": 1}}
        async with running(harness, components) as run:
            await run.push_all({"boardId": RECIPES, "videoUrl": video})

    assert len(run.sent()) == 1
    assert operations(harness) == [
        "media/create",
        "media/get",
        "media/get",
        "media/get",
        "pins/create",
    ]
    assert len([e for e in harness.exchanges if e.path.startswith("/media-upload/")]) == 1


# -- a crash after the effect, before the acknowledgement ----------------------------------------


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
async def test_a_message_delivered_again_after_its_effect_was_recorded_calls_no_api(
    live, case, tmp_path: Path
):
    path = tmp_path / "flowmixer.db"
    async with (
        await SQLiteStore.open(path) as store,
        running(live, one_step(case.component), store=store) as run,
    ):
        [event_id] = await run.push_all(case.event)
    [first] = run.sent()
    calls = len(live.exchanges)

    # The process died after recording the object and before acknowledging the message: the
    # broker delivers the same message again (here as a dead letter marked for retry).
    envelope = Envelope("t", "step", "in", case.event, event_id)
    letter = DeadLetter(new_id(), envelope, "interrupted", "CancelledError", 1, time.time(), True)
    async with await SQLiteStore.open(path) as reopened:
        await reopened.add_dead_letter(letter)
        async with running(live, one_step(case.component), store=reopened) as again:
            await again.engine.wait_idle("t")

    assert again.sent() == [first]
    assert [o.correlation_id for o in again.outputs] == [event_id]
    assert live.exchanges[calls:] == []


# -- what a lookup may adopt ---------------------------------------------------------------------


async def test_a_lookup_never_adopts_the_pin_of_another_event(live):
    before = pins_of(live)
    async with running(live, one_step("CreatePin")) as run:
        await run.push_all(SOUP)
        live.emu.faults.set(
            FaultPlan(drop_before_rate=1.0, operations={"pins/create"}, max_faults=1)
        )
        await run.push_all(SOUP)  # the same input, another event: another Pin

    made = pins_of(live) - before
    assert len(made) == 2
    assert {sent["id"] for sent in run.sent()} == made


async def test_a_lookup_never_adopts_an_identical_pin_made_before_the_first_attempt(live):
    before = pins_of(live)
    old = live.emu.add_pin(
        RECIPES,
        title=SOUP["title"],
        link=SOUP["link"],
        image_url=IMAGE,
        created_at=time.time() - CLOCK_SKEW - 60,
    )
    live.emu.faults.set(FaultPlan(drop_before_rate=1.0, operations={"pins/create"}, max_faults=1))
    async with running(live, one_step("CreatePin")) as run:
        await run.push_all(SOUP)

    [sent] = run.sent()
    [made] = pins_of(live) - before - {old.id}
    assert sent["id"] == made
    assert operations(live) == ["pins/create", "boards/list_pins", "pins/create"]


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    sections=st.integers(min_value=1, max_value=4),
    rates=st.tuples(*[st.sampled_from([0.0, 0.15, 0.3])] * 3),
    faults=st.integers(min_value=0, max_value=8),
    seed=st.integers(min_value=0, max_value=2**16),
)
async def test_any_pattern_of_lost_answers_makes_exactly_one_pin_per_input_of_an_event(
    make_emulator: MakeEmulator, sections: int, rates: tuple[float, ...], faults: int, seed: int
):
    after, before, error = rates
    async with make_emulator(clock=time.time) as harness:
        board = harness.emu.add_board("Menu")
        for n in range(sections):
            harness.emu.add_section(board.id, f"Course {n}")
        harness.emu.faults.set(
            FaultPlan(
                drop_after_rate=after,
                drop_before_rate=before,
                error_rate=error,
                operations={"pins/create", "board_sections/list_pins"},
                max_faults=faults,
                seed=seed,
            )
        )
        components = {
            "hook": {"type": "flowmixer.core.Webhook"},
            "courses": {
                "type": "acme.pinterest.ListBoardSections",
                "source": {"in": {"hook": ["out"]}},
                "config": {"properties": {"outputMode": "each"}},
            },
            "step": {
                "type": "acme.pinterest.CreatePin",
                "source": {"in": {"courses": ["out"]}},
                "config": {
                    "transform": {
                        "in": {
                            # the same Pin in every section: only the section tells them apart
                            "boardId": "{{{$.hook.out.boardId}}}",
                            "boardSectionId": "{{{$.courses.out.id}}}",
                            "imageUrl": IMAGE,
                            "title": "Soup",
                        }
                    }
                },
            },
        }
        async with running(harness, components, max_attempts=faults + 2) as run:
            [event_id] = await run.push_all({"boardId": board.id})

        made = [p for p in harness.emu.state.pins.values() if p.board_id == board.id]
        courses = [s.id for s in harness.emu.state.sections.values() if s.board_id == board.id]
        assert await run.store.list_dead_letters() == []
        assert sorted(p.section_id or "" for p in made) == sorted(courses)
        assert sorted(sent["id"] for sent in run.sent()) == sorted(p.id for p in made)
        assert {o.correlation_id for o in run.outputs} == {event_id}


# -- the rules, one by one -----------------------------------------------------------------------


def _dropped(cause: BaseException) -> TransportError:
    error = TransportError("POST /v5/pins failed")
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    ("error", "maybe"),
    [
        (_dropped(aiohttp.ServerDisconnectedError()), True),
        (_dropped(TimeoutError()), True),
        (_dropped(aiohttp.ClientPayloadError("cut")), True),
        (ServerError("HTTP 503", status=503), True),
        (ServerError("HTTP 200 with a body that is not JSON", status=200), True),
        (ServiceError("the answer is not a valid Pin"), True),
        (RetryError("anything else"), True),
        (TransportError("POST /v5/pins failed: cannot connect", sent=False), False),
        (BadRequestError("HTTP 400", status=400), False),
        (UnauthorizedError("HTTP 401", status=401), False),
        (ForbiddenError("HTTP 403", status=403), False),
        (NotFoundError("HTTP 404", status=404), False),
        (ConflictError("HTTP 409", status=409), False),
        (RateLimitedError("HTTP 429", wait=1.0), False),
        (InputError("title", "too long"), False),
        (ReauthorizeError("the account must be connected again"), False),
        (QuotaWaitError("quota", delay=60, service="acme:pinterest", resource="org_write"), False),
        (OAuth2Error("the token endpoint did not answer"), False),
    ],
    ids=[
        "connection dropped after sending",
        "no answer in time",
        "answer cut off",
        "5xx",
        "unreadable success",
        "success of another shape",
        "an unknown failure",
        "no connection opened",
        "400",
        "401",
        "403",
        "404",
        "409",
        "429",
        "our own input check",
        "no token",
        "held by the quota before sending",
        "the refresh failed before sending",
    ],
)
def test_only_failures_that_may_have_reached_pinterest_make_the_next_attempt_look_first(
    error, maybe
):
    assert may_have_taken_effect(error) is maybe


NOW = 1_750_000_000.0


def pin(**fields: Any) -> Pin:
    shown = {
        "id": "1",
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(NOW)),
        "title": "Soup",
        "link": "https://x.invalid/s",
        "board_id": RECIPES,
        "media": {
            "media_type": "image",
            "images": {"600x": {"url": IMAGE, "width": 600, "height": None}},
        },
    }
    return Pin.model_validate({**shown, **fields})


def image_at(url: str) -> dict[str, Any]:
    return {"media_type": "image", "images": {"600x": {"url": url, "width": 600}}}


@pytest.mark.parametrize(
    ("shown", "message", "kind", "matches"),
    [
        ({}, SOUP, "imageUrl", True),
        ({"title": "Stew"}, SOUP, "imageUrl", False),
        ({"link": None}, SOUP, "imageUrl", False),
        ({"description": "added later"}, SOUP, "imageUrl", True),
        ({"board_section_id": DESSERTS}, SOUP, "imageUrl", False),
        ({"board_section_id": None}, {**SOUP, "boardSectionId": DESSERTS}, "imageUrl", True),
        ({"media": image_at("https://images.example/stew.jpg")}, SOUP, "imageUrl", False),
        ({"media": image_at("https://i.pinimg.com/600x/ab/cd.jpg")}, SOUP, "imageUrl", True),
        ({"media": {"media_type": "video"}}, SOUP, "imageUrl", False),
        (
            {"created_at": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(NOW - 3600))},
            SOUP,
            "imageUrl",
            False,
        ),
        (
            {"media": image_at("http://127.0.0.1:1/images/9.png")},
            {"boardId": RECIPES, "imageBase64": "AAAA", "contentType": "image/png"},
            "imageBase64",
            True,
        ),
    ],
    ids=[
        "the same pin",
        "another title",
        "no link where one was sent",
        "a field that was not sent",
        "another section",
        "a section the answer does not show",
        "another image on the source's host",
        "the image copied to pinterest's servers",
        "another kind of media",
        "made an hour before the first attempt",
        "image bytes cannot be compared",
    ],
)
def test_a_pin_is_taken_for_the_one_an_attempt_made_only_when_everything_sent_matches(
    shown, message, kind, matches
):
    assert same_pin(pin(**shown), message, kind, since=NOW) is matches
