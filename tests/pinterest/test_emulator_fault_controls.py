"""Fault injection a person can drive: ``--faults`` on the command line and
``/_emulator/faults`` on a running emulator; new ids that never repeat across restarts."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.pinterest.emulator import OPERATIONS, Emulator, FaultPlan
from components.pinterest.emulator.fault_spec import parse_faults, plan_to_json
from runtime.errors import ConfigurationError
from tests.pinterest.emulator_harness import EmulatorHarness
from tests.pinterest.test_emulator_cli import banner, start, stopped_at_exit

FAULTS = "/_emulator/faults"
OPERATION_IDS = sorted(op.operation_id for op in OPERATIONS)
PIN = {
    "board_id": "600000000000000001",
    "title": "Restarted",
    "media_source": {"source_type": "image_url", "url": "https://img.invalid/a.jpg"},
}


@st.composite
def plans(draw: st.DrawFn) -> FaultPlan:
    rates = draw(
        st.lists(st.integers(0, 100), min_size=3, max_size=3).filter(lambda r: sum(r) <= 100)
    )
    return FaultPlan(
        latency_ms=draw(st.integers(0, 5000)),
        jitter_ms=draw(st.integers(0, 500)),
        error_rate=rates[0] / 100,
        drop_before_rate=rates[1] / 100,
        drop_after_rate=rates[2] / 100,
        error_statuses=tuple(
            draw(st.lists(st.sampled_from([429, 500, 502, 503, 504]), min_size=1, max_size=3))
        ),
        operations=draw(
            st.none() | st.frozensets(st.sampled_from(OPERATION_IDS), min_size=1, max_size=3)
        ),
        max_faults=draw(st.none() | st.integers(0, 50)),
        seed=draw(st.integers(0, 2**31)),
        retry_after=draw(st.integers(0, 60)),
    )


def as_pairs(plan: FaultPlan) -> str:
    pairs = []
    for key, value in plan_to_json(plan).items():
        if value is None:
            continue
        text = "+".join(map(str, value)) if isinstance(value, list) else str(value)
        pairs.append(f"{key}={text}")
    return ",".join(pairs)


@given(plans())
def test_a_plan_written_as_json_or_as_pairs_reads_back_the_same(plan: FaultPlan) -> None:
    assert parse_faults(json.dumps(plan_to_json(plan))) == plan
    assert parse_faults(as_pairs(plan)) == plan


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("eror_rate=0.1", "--faults: unknown field 'eror_rate'; the fields are: latency_ms"),
        ("error_rate=lots", "--faults: error_rate must be a number, not 'lots'"),
        ("seed=1.5", "--faults: seed must be a whole number, not '1.5'"),
        ("error_rate=0.7,drop_after_rate=0.7", "must each be between 0 and 1 and add up to"),
        ("operations=pins/craete", "--faults: operations: no operation 'pins/craete'"),
        ("error_rate", "--faults: expected key=value, not 'error_rate'"),
        ('{"error_rate": }', "--faults: not JSON: Expecting value at line 1 column 16"),
        ('{"operations": [1]}', "--faults: operations must hold operation ids"),
    ],
    ids=["unknown", "not-a-number", "not-whole", "rates", "operation", "no-equals", "json", "ids"],
)
def test_a_bad_plan_is_refused_naming_the_field(text: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        parse_faults(text)
    assert message in str(refused.value)


async def test_the_control_route_shows_replaces_and_clears_the_plan(
    emulator: EmulatorHarness,
) -> None:
    session, base = emulator.session, emulator.base
    async with session.get(base + FAULTS) as answer:
        assert answer.status == 200
        assert (await answer.json())["plan"] == plan_to_json(FaultPlan())
    body = {"error_rate": 1, "error_statuses": [503], "operations": ["boards/list"]}
    async with session.post(base + FAULTS, json=body) as answer:
        assert answer.status == 200
        assert (await answer.json())["plan"]["operations"] == ["boards/list"]
    assert (await emulator.call("GET", "/boards")).status == 503
    assert (await emulator.call("GET", "/user_account")).status == 200  # not in the plan
    async with session.get(base + FAULTS) as answer:
        assert (await answer.json())["injected"] == {"error": 1}
    async with session.delete(base + FAULTS) as answer:
        assert answer.status == 200
        assert (await answer.json())["plan"] == plan_to_json(FaultPlan())
    assert (await emulator.call("GET", "/boards")).status == 200


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"error_rate": "high"}', "body: error_rate must be a number, not 'high'"),
        (b'{"latency": 5}', "body: unknown field 'latency'"),
        (b"[1]", "body: expected a JSON object of fault settings"),
        (b"{", "the body is not JSON"),
    ],
    ids=["bad-value", "unknown-field", "not-an-object", "not-json"],
)
async def test_a_bad_plan_sent_to_the_control_route_is_refused_and_changes_nothing(
    emulator: EmulatorHarness, body: bytes, message: str
) -> None:
    emulator.emu.faults.set(FaultPlan(latency_ms=1))
    async with emulator.session.post(emulator.base + FAULTS, data=body) as answer:
        assert answer.status == 400
        assert message in (await answer.json())["message"]
    assert emulator.emu.faults.plan == FaultPlan(latency_ms=1)


def get(url: str, token: str | None = None) -> tuple[int, dict[str, object]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as refused:
        return refused.code, json.load(refused)


@pytest.mark.slow
def test_the_faults_flag_puts_a_plan_in_force_from_the_start() -> None:
    plan = "error_rate=1,error_statuses=503,operations=boards/list"
    with (
        start(
            "--issue-token", "--faults", plan, command=("runtime.cli", "emulate", "pinterest")
        ) as process,
        stopped_at_exit(process),
    ):
        lines = banner(process)
        base = lines[0].removeprefix("Pinterest emulator listening on ")
        token = next(line for line in lines if "access token" in line).split()[2]
        assert f"  fault controls {base}{FAULTS}" in lines
        assert get(f"{base}/v5/boards", token)[0] == 503
        assert get(f"{base}/v5/user_account", token)[0] == 200
        status, shown = get(base + FAULTS)
        assert status == 200
        assert shown["injected"] == {"error": 1}
        process.terminate()


def test_a_malformed_faults_flag_exits_2_naming_the_field() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "runtime.cli", "emulate", "pinterest", "--faults", "rate=1"],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "flowmixer emulate: error: --faults: unknown field 'rate'" in result.stderr


async def test_new_ids_never_repeat_across_a_restart() -> None:
    seen: list[str] = []
    for _ in range(2):  # the same seed, started twice, as a restarted process would be
        emu = Emulator()
        token = emu.issue_token().access_token
        async with emu.running() as base, aiohttp.ClientSession() as session:
            for _ in range(3):
                async with session.post(
                    f"{base}/v5/pins", json=PIN, headers={"Authorization": f"Bearer {token}"}
                ) as answer:
                    assert answer.status == 201
                    seen.append((await answer.json())["id"])
    assert len(set(seen)) == 6
    assert [int(i) for i in seen] == sorted(int(i) for i in seen)  # each run above the last
    seed_ids = set(Emulator().state.pins) | set(Emulator().state.boards)
    assert seed_ids.isdisjoint(seen)
