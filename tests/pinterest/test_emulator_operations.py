"""The emulator's operation table agrees with the OpenAPI description, and serves each entry."""

from __future__ import annotations

import pytest

from components.pinterest.emulator import ALL_SCOPES, OPERATIONS, Operation
from components.pinterest.emulator.app import HANDLERS
from tests.pinterest.emulator_harness import EmulatorHarness
from tests.pinterest.openapi import Spec

IDS = [op.operation_id for op in OPERATIONS]


@pytest.mark.parametrize("operation", OPERATIONS, ids=IDS)
def test_each_operation_has_the_path_scopes_and_category_of_the_description(
    spec: Spec, operation: Operation
) -> None:
    described = spec.find_operation(operation.method, operation.path)
    assert described is not None, f"{operation.method} {operation.path} is not in the description"
    assert described.path == operation.path
    assert described.operation_id == operation.operation_id
    assert described.category == operation.category
    assert described.scopes == operation.scopes
    assert described.client_credentials == operation.client_credentials
    assert described.basic == operation.basic


def test_the_scope_catalogue_is_the_one_of_the_description(spec: Spec) -> None:
    flows = spec.security_schemes["pinterest_oauth2"]["flows"]
    assert set(flows["authorizationCode"]["scopes"]) == ALL_SCOPES


def test_operation_ids_are_unique_and_every_one_has_a_handler() -> None:
    assert len(set(IDS)) == len(IDS)
    assert set(HANDLERS) == set(IDS)


async def test_every_operation_answers_without_a_token_with_401_code_2(
    emulator: EmulatorHarness,
) -> None:
    with emulator.deliberately_invalid():
        for operation in OPERATIONS:
            path = operation.path.replace("{board_id}", "1").replace("{section_id}", "2")
            path = path.replace("{pin_id}", "3").replace("{media_id}", "4")
            answer = await emulator.call(operation.method, path, token=None)
            assert answer.status == 401, operation.operation_id
            assert answer.body == {"code": 2, "message": "Authentication failed."}


async def test_an_unknown_api_path_gets_a_pinterest_error_body(emulator: EmulatorHarness) -> None:
    with emulator.deliberately_invalid() as problems:
        answer = await emulator.call("GET", "/nothing/here", token=None)
    emulator.assert_spec_problems(
        problems, "GET /v5/nothing/here: no such operation in the description"
    )
    assert answer.status == 404
    assert set(answer.body) == {"code", "message"}
    assert "x-pinterest-rid" in answer.headers
