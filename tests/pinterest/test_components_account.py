"""GetUserAccount, run in a flow against the emulator."""

from __future__ import annotations

from tests.pinterest.component_kit import run_component


async def test_get_user_account_sends_the_connected_users_account(emulator):
    outcome = await run_component(emulator, "GetUserAccount", [{}])

    [account] = outcome.sent()
    assert account["username"] == "flowmixer_demo"
    assert account["account_type"] == "BUSINESS"
    assert account["id"] == "500000000000000001"
    assert outcome.ports == ["out"]
    assert outcome.operations == ["user_account/get"]


async def test_a_refused_token_dead_letters_asking_for_a_new_one_without_showing_it(emulator):
    token = "pina_this-token-was-never-issued"
    outcome = await run_component(emulator, "GetUserAccount", [{}], token=token)

    assert outcome.outputs == []
    [letter] = outcome.dead_letters
    assert letter.error_type == "ReauthorizeError"
    assert "acme:pinterest refused the configured access token" in letter.error
    assert token not in letter.error


async def test_get_user_account_answers_each_message_of_any_shape(emulator):
    outcome = await run_component(emulator, "GetUserAccount", [{}, {"anything": [1, 2]}])

    assert [account["username"] for account in outcome.sent()] == ["flowmixer_demo"] * 2
