"""The ``flowmixer`` command: validate, components, graph, run, dead-letters; exit codes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runtime.cli import main
from runtime.logging import reset_logging

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "flows" / "webhook-filter-log.json"
ORDER = REPO / "examples" / "events" / "order.json"
SMALL_ORDER = REPO / "examples" / "events" / "small-order.json"


@pytest.fixture(autouse=True)
def _fresh_logging():
    # main() configures structlog for the captured stderr of one test; undo it afterwards.
    yield
    reset_logging()


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("FLOWMIXER_HOME", str(home))
    monkeypatch.setenv("FLOWMIXER_LOG_FORMAT", "json")
    return home


def write_flow(tmp_path: Path, flow: dict) -> Path:
    path = tmp_path / f"{flow['id']}.json"
    path.write_text(json.dumps(flow))
    return path


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


STRICT_FLOW = {
    "id": "strict",
    "components": {
        "hook": {
            "type": "flowmixer.core.Webhook",
            "config": {"properties": {"schema": {"type": "object", "required": ["total"]}}},
        },
        "pass": {
            "type": "flowmixer.core.Filter",
            "source": {"in": {"hook": ["out"]}},
            "config": {
                "properties": {"field": "total", "operator": "exists"},
                "transform": {
                    "in": {"total": "{{{$.hook.out.total}}}", "note": "t={{{$.hook.out.total}}}"}
                },
            },
        },
    },
}


def test_validate_accepts_the_examples(capsys):
    flows = sorted(str(p) for p in (REPO / "examples" / "flows").glob("*.json"))
    assert main(["validate", *flows]) == 0
    out = capsys.readouterr().out
    assert out.count(": ok (flow ") == len(flows)


def test_validate_lists_every_problem_with_its_path_and_exits_1(tmp_path, capsys):
    broken = {
        "id": "broken",
        "components": {
            "hook": {"type": "flowmixer.core.Webhok"},
            "f": {
                "type": "flowmixer.core.Filter",
                "source": {"in": {"ghost": ["out"]}},
                "config": {"properties": {"operator": "equals", "value": 1}},
            },
        },
    }
    assert main(["validate", str(write_flow(tmp_path, broken))]) == 1
    out = capsys.readouterr().out
    assert "$.components.hook.type" in out
    assert 'did you mean "flowmixer.core.Webhook"' in out
    assert "$.components.f.source.in.ghost" in out
    assert "$.components.f.config.properties" in out
    assert "field" in out


def test_validate_reports_a_file_that_is_not_json_with_its_line(tmp_path, capsys):
    path = tmp_path / "bad.json"
    path.write_text('{\n  "id": "x",\n  "components": {,}\n}')
    assert main(["validate", str(path)]) == 1
    assert "line 3" in capsys.readouterr().out


def test_components_lists_every_core_component_with_ports_and_properties(capsys):
    assert main(["components", "--json"]) == 0
    described = {c["name"]: c for c in json.loads(capsys.readouterr().out)}
    for name in ("Webhook", "OnStart", "Schedule", "Filter", "Log"):
        assert f"flowmixer.core.{name}" in described
    flt = described["flowmixer.core.Filter"]
    assert (flt["inPorts"], flt["outPorts"]) == (["in"], ["out", "rejected"])
    assert flt["properties"]["field"]["required"] is True
    assert described["flowmixer.core.Schedule"]["kind"] == "polling trigger"
    assert described["flowmixer.core.Webhook"]["kind"] == "webhook trigger"

    assert main(["components"]) == 0
    text = capsys.readouterr().out
    assert "flowmixer.core.Filter  (action)" in text
    assert "property    field: string (required)" in text


def test_graph_prints_the_wiring_as_mermaid(capsys):
    assert main(["graph", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("flowchart LR\n")
    assert 'n0(["hook<br/><small>flowmixer.core.Webhook</small>"])' in out
    assert "n0 --> n1" in out
    assert "n1 --> n2" in out


def test_run_prints_what_leaves_the_flow_and_a_summary(capsys):
    code = main(
        [
            "run",
            str(EXAMPLE),
            "--push",
            f"hook={ORDER}",
            "--push",
            f"hook={SMALL_ORDER}",
            "--until-idle",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0
    [line] = json_lines(captured.out)  # only the big order reaches the Log sink
    assert line["message"]["orderId"] == "ord-1042"
    assert "messages" in captured.err
    assert "big-orders" in captured.err


def test_run_maps_inputs_and_exits_3_when_messages_are_dead_lettered(tmp_path, capsys):
    flow = write_flow(tmp_path, STRICT_FLOW)
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text('{"total": 5}')
    bad.write_text('{"no_total": 1}')
    code = main(
        ["run", str(flow), "--push", f"hook={good}", "--push", f"hook={bad}", "--until-idle"]
    )
    captured = capsys.readouterr()
    assert code == 3
    [line] = json_lines(captured.out)
    assert line["payload"] == {"total": 5, "note": "t=5"}
    assert line["component"] == "pass"
    assert line["port"] == "out"
    assert "1 message(s) went to the dead letters" in captured.err

    assert main(["dead-letters", "list", "--flow", "strict", "--json"]) == 0
    [letter] = json_lines(capsys.readouterr().out)
    assert letter["component_id"] == "hook"
    assert letter["envelope"]["payload"] == {"no_total": 1}
    assert "total" in letter["error"]

    assert main(["dead-letters", "show", letter["id"]]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == letter["id"]

    assert main(["dead-letters", "retry", letter["id"]]) == 0
    assert "1 dead letter(s) will be delivered again" in capsys.readouterr().out
    assert main(["dead-letters", "list"]) == 0
    assert "[retry at next start]" in capsys.readouterr().out

    # The next run delivers it again; it fails again (same bad event) and is kept again.
    assert main(["run", str(flow), "--until-idle"]) == 3
    capsys.readouterr()
    assert main(["dead-letters", "drop", "--flow", "strict", "--all", "--yes"]) == 0
    assert "1 dead letter(s) dropped" in capsys.readouterr().out
    assert main(["dead-letters", "list"]) == 0
    assert capsys.readouterr().out.strip() == "no dead letters"


def test_dead_letter_commands_refuse_unknown_ids_and_unbounded_drops(capsys):
    assert main(["dead-letters", "show", "nope"]) == 1
    assert "no dead letter 'nope'" in capsys.readouterr().err
    assert main(["dead-letters", "drop", "--all"]) == 1
    assert "--all needs --flow" in capsys.readouterr().err
    assert main(["dead-letters", "retry", "nope"]) == 1


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("log=x.json", "has no webhook trigger 'log' (its webhook triggers: hook)"),
        ("hook=/does/not/exist.json", "cannot read /does/not/exist.json"),
    ],
    ids=["not-a-webhook", "missing-file"],
)
def test_a_bad_push_is_refused_before_the_flow_starts(spec, message, capsys):
    assert main(["run", str(EXAMPLE), "--push", spec, "--until-idle"]) == 1
    captured = capsys.readouterr()
    assert message in captured.err
    assert "flow started" not in captured.err


def test_a_push_file_that_is_not_json_is_refused_with_its_position(tmp_path, capsys):
    bad = tmp_path / "event.json"
    bad.write_text('{"a": }')
    assert main(["run", str(EXAMPLE), "--push", f"hook={bad}", "--until-idle"]) == 1
    assert "is not JSON: Expecting value at line 1 column 7" in capsys.readouterr().err


def test_run_for_a_duration_drives_a_polling_trigger(tmp_path, capsys):
    flow = {
        "id": "ticks",
        "components": {
            "every": {
                "type": "flowmixer.core.Schedule",
                "config": {"properties": {"interval": 0.1}},
            },
            "pass": {
                "type": "flowmixer.core.Filter",
                "source": {"in": {"every": ["out"]}},
                "config": {"properties": {"field": "tick", "operator": "exists"}},
            },
        },
    }
    assert main(["run", str(write_flow(tmp_path, flow)), "--duration", "0.35"]) == 0
    ticks = [line["payload"]["tick"] for line in json_lines(capsys.readouterr().out)]
    assert ticks[:3] == [1, 2, 3]


def test_the_command_exits_with_documented_codes_in_a_real_process(tmp_path):
    env = {**os.environ, "FLOWMIXER_HOME": str(tmp_path / "h"), "PYTHONPATH": str(REPO)}
    ok = subprocess.run(
        [sys.executable, "-m", "runtime.cli", "validate", str(EXAMPLE)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    usage = subprocess.run(
        [sys.executable, "-m", "runtime.cli", "run"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert (ok.returncode, usage.returncode) == (0, 2)
    assert "the following arguments are required: FLOW.json" in usage.stderr


def test_the_flow_shown_in_the_readme_validates_and_runs(tmp_path, capsys):
    readme = (REPO / "README.md").read_text("utf-8")
    section = readme[readme.index("## A flow file") :]
    text = section[section.index("```json") + len("```json") : section.index("```\n\n")]
    flow = tmp_path / "readme-flow.json"
    flow.write_text(text)
    event = tmp_path / "event.json"
    event.write_text('{"orderId": "o-1", "total": 150}')

    assert main(["run", str(flow), "--push", f"hook={event}", "--until-idle"]) == 0
    [line] = json_lines(capsys.readouterr().out)
    assert line["message"] == {"order": "o-1", "summary": "o-1: 150 EUR"}


def test_call_runs_one_component_once_and_prints_what_it_sends(capsys):
    code = main(
        [
            "call",
            "Filter",
            "--props",
            '{"field": "a", "operator": "greaterThan", "value": 1}',
            "--input",
            '{"a": 5}',
        ]
    )
    assert code == 0
    assert json_lines(capsys.readouterr().out) == [{"port": "out", "payload": {"a": 5}}]


def test_call_of_a_polling_trigger_runs_one_tick(capsys):
    assert main(["call", "flowmixer.core.Schedule", "--props", '{"interval": 60}']) == 0
    [line] = json_lines(capsys.readouterr().out)
    assert line["payload"]["tick"] == 1


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["call", "Filtr"], 1, 'did you mean "flowmixer.core.Filter"'),
        (
            ["call", "Filter", "--props", '{"field": "a", "operator": "exists", "value": 1}'],
            1,
            '$.value: property "value" is not allowed here when "operator" is "exists"',
        ),
        (["call", "Filter", "--props", "[1]"], 2, "argument --props: must be a JSON object"),
        (["call", "Filter", "--input", "{nope"], 2, "argument --input: not JSON"),
    ],
    ids=["unknown-component", "bad-props", "props-not-object", "input-not-json"],
)
def test_call_refuses_bad_arguments_naming_what_is_wrong(argv, code, message, capsys):
    try:
        got = main(argv)
    except SystemExit as exit_:  # argparse refuses its own arguments with exit code 2
        got = exit_.code
    assert got == code
    assert message in capsys.readouterr().err


def test_call_exits_1_with_the_reason_when_the_component_fails(capsys):
    schema = '{"schema": {"type": "object", "required": ["id"]}}'
    assert main(["call", "Webhook", "--props", schema, "--input", '{"id": 1}']) == 0
    assert json_lines(capsys.readouterr().out) == [{"port": "out", "payload": {"id": 1}}]

    assert main(["call", "Webhook", "--props", schema, "--input", "{}"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "flowmixer.core.Webhook failed: the event does not match" in captured.err
    assert "field $.id is missing" in captured.err


def test_an_interrupted_run_stops_quickly_and_keeps_unfinished_messages(tmp_path):
    # CreatePin against a closed port keeps failing and retrying with backoff; Ctrl-C must
    # not wait for the retries, and the message must survive as a dead letter.
    flow = write_flow(
        tmp_path,
        {
            "id": "stuck",
            "retry": {"maxAttempts": 3, "baseDelay": 60, "maxDelay": 60},
            "components": {
                "hook": {"type": "flowmixer.core.Webhook"},
                "pin": {"type": "acme.pinterest.CreatePin", "source": {"in": {"hook": ["out"]}}},
            },
        },
    )
    event = tmp_path / "event.json"
    event.write_text('{"boardId": "1", "imageUrl": "https://example.com/a.png"}')
    home = tmp_path / "home"
    env = {
        **os.environ,
        "FLOWMIXER_HOME": str(home),
        "PYTHONPATH": str(REPO),
        "PINTEREST_ACCESS_TOKEN": "pina_test",
        "PINTEREST_API_BASE": "http://127.0.0.1:9/v5",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "runtime.cli",
            "run",
            str(flow),
            "--push",
            f"hook={event}",
            "--until-idle",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(2.0)  # the first attempts fail; the message waits for a retry
    began = time.monotonic()
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130
    assert time.monotonic() - began < 10
    assert "1 message(s) went to the dead letters" in err

    listed = subprocess.run(
        [sys.executable, "-m", "runtime.cli", "dead-letters", "list", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    [letter] = json_lines(listed.stdout)
    assert letter["component_id"] == "pin"
    assert letter["error_type"] == "Stopped"
    assert "pina_test" not in err + listed.stdout
