"""Least privilege, proven by running: each action component's manifest asks for exactly the
scopes (and quota resources) of the operations it calls.

Every component runs once against the emulator (which enforces each operation's ``security``
scopes, as Pinterest does) with a token holding exactly its manifest's scopes, and must succeed.
The operations it called are recorded; the manifest's scopes must equal the union of their
``security`` scopes in Pinterest's OpenAPI description and its quota resources the set of their
``x-ratelimit-category``. Then each scope is taken away in turn, and the run must fail: no scope
is asked for in vain.

MakeApiCall is the exception: it calls whatever it is told, so it asks for a broad, explicit
set (every organic-content scope, and every quota resource of the service) and says so in its
description; here it is checked to cover the operations it ran.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from components.pinterest.emulator import ORGANIC_SCOPES
from runtime.manifest import EVERY_CALL
from tests.pinterest.component_kit import manifest, registry, run_component, video_server

RECIPES = "600000000000000001"
TRAVEL = "600000000000000002"
DESSERTS = "700000000000000001"
SOUP = "800000000000000001"
TART = "800000000000000002"
HARBOUR = "800000000000000003"

Events = Callable[[str], list[dict[str, Any]]]
"""The events a run pushes, given the address of a video to download."""

SCENARIOS: dict[str, Events] = {
    "GetUserAccount": lambda video: [{}],
    "CreatePin": lambda video: [{"boardId": RECIPES, "videoUrl": video, "title": "Clip"}],
    "GetPin": lambda video: [{"pinId": TART}],
    "UpdatePin": lambda video: [{"pinId": SOUP, "title": "Soup"}],
    "DeletePin": lambda video: [{"pinId": SOUP}],
    "SavePin": lambda video: [{"pinId": HARBOUR, "boardId": RECIPES}],
    "ListPins": lambda video: [{}],
    "ListBoardPins": lambda video: [
        {"boardId": RECIPES},
        {"boardId": RECIPES, "sectionId": DESSERTS},
    ],
    "SearchPins": lambda video: [{"query": "tart"}],
    "CreateBoard": lambda video: [{"name": "Garden"}],
    "GetBoard": lambda video: [{"boardId": RECIPES}],
    "UpdateBoard": lambda video: [{"boardId": TRAVEL, "name": "Trips"}],
    "DeleteBoard": lambda video: [{"boardId": TRAVEL}],
    "ListBoards": lambda video: [{}],
    "SearchBoards": lambda video: [{"query": "travel"}],
    "ListBoardSections": lambda video: [{"boardId": RECIPES}],
    "CreateBoardSection": lambda video: [{"boardId": RECIPES, "name": "Soups"}],
    "UpdateBoardSection": lambda video: [
        {"boardId": RECIPES, "sectionId": DESSERTS, "name": "Sweets"}
    ],
    "DeleteBoardSection": lambda video: [{"boardId": RECIPES, "sectionId": DESSERTS}],
    "MakeApiCall": lambda video: [{"method": "GET", "path": f"/boards/{RECIPES}"}],
}
NARROW = sorted(set(SCENARIOS) - {"MakeApiCall"})


def _pairs() -> list[tuple[str, str]]:
    return [(name, scope) for name in NARROW for scope in manifest(name).auth.scopes]


async def _run(harness, name: str, scopes: list[str]):
    async with video_server() as video:
        return await run_component(harness, name, SCENARIOS[name](video), scopes=scopes)


def test_all_action_components_have_a_scenario():
    actions = {
        m.name.rsplit(".", 1)[1]
        for m in registry().components()
        if m.name.startswith("acme.pinterest.") and not m.is_trigger
    }
    assert actions == set(SCENARIOS)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_components_succeed_with_a_token_of_exactly_their_manifests_scopes(
    emulator, spec, name
):
    declared = manifest(name)
    outcome = await _run(emulator, name, list(declared.auth.scopes))

    assert outcome.errors == []
    assert {o.correlation_id for o in outcome.outputs} == set(outcome.events)
    operations = [spec.operation_by_id(op) for op in sorted(set(outcome.operations))]
    assert operations, "the component called no operation"
    needed = frozenset().union(*(op.scopes for op in operations))
    categories = {op.category for op in operations}
    if name == "MakeApiCall":
        assert needed <= set(declared.auth.scopes)
        assert categories <= set(declared.quota.resources)
    else:
        assert set(declared.auth.scopes) == needed
        assert set(declared.quota.resources) == categories


@pytest.mark.parametrize(("name", "scope"), _pairs(), ids=[f"{n}-{s}" for n, s in _pairs()])
async def test_components_fail_without_any_one_scope_of_their_manifest(emulator, name, scope):
    scopes = [s for s in manifest(name).auth.scopes if s != scope]
    outcome = await _run(emulator, name, scopes)

    assert outcome.dead_letters, "the component ran without the scope"
    assert all(error.endswith(f"needs: {scope}.") for error in outcome.errors), outcome.errors


def test_the_components_escape_hatch_asks_for_every_organic_scope_and_says_why():
    declared = manifest("MakeApiCall")
    service = registry().service("acme:pinterest")

    assert set(declared.auth.scopes) == set(ORGANIC_SCOPES)
    limited = {rule.resource for rule in service.quota} - {EVERY_CALL}  # "*" counts every call
    assert set(declared.quota.resources) == limited
    assert "asks for every organic-content scope" in declared.description
