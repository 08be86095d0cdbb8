"""``flowmixer components NAME``: one component's properties, port fields, scopes and quota."""

from __future__ import annotations

import json

import pytest

from runtime.cli import main
from runtime.logging import reset_logging


@pytest.fixture(autouse=True)
def _fresh_logging(tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWMIXER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FLOWMIXER_COMPONENTS_PATH", raising=False)
    yield
    reset_logging()


def test_a_component_by_full_name_shows_its_input_fields_scopes_and_quota(capsys):
    assert main(["components", "acme.pinterest.GetBoard"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("acme.pinterest.GetBoard  (action, version 1.0.0)\n")
    assert "    scopes      boards:read\n" in out
    assert "    quota       org_read\n" in out
    in_port = out.split("in-port in (Request)\n")[1].split("\n\n")[0]
    assert in_port.splitlines() == [
        "    boardId: string, required",
        "        The id of the board: digits only, e.g. 549755885175.",
    ]
    assert "out-port out (Board)\n    id: string, required\n" in out


def test_properties_show_their_type_default_and_description(capsys):
    assert main(["components", "flowmixer.core.Schedule"]) == 0
    out = capsys.readouterr().out
    assert "(polling trigger, version 1.0.0)" in out
    assert "properties (config.properties)\n    interval: number, default 60\n" in out
    assert "    payload: object\n        Extra keys to put in each message;" in out


def test_a_short_name_works_when_no_other_component_ends_so(capsys):
    assert main(["components", "GetBoard"]) == 0
    assert capsys.readouterr().out.startswith("acme.pinterest.GetBoard  (action")


def test_an_unknown_name_is_refused_with_a_did_you_mean(capsys):
    assert main(["components", "GetBord"]) == 1
    assert capsys.readouterr().err == (
        'flowmixer: unknown component "GetBord"; did you mean "acme.pinterest.GetBoard"?\n'
    )


def test_json_includes_the_full_schemas_of_properties_and_ports(capsys):
    assert main(["components", "GetBoard", "--json"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["name"] == "acme.pinterest.GetBoard"
    assert (card["scopes"], card["quota"], card["plugin"]) == (["boards:read"], ["org_read"], None)
    [in_port] = card["inPorts"]
    assert in_port["fields"] == [
        {
            "name": "boardId",
            "type": "string",
            "required": True,
            "description": "The id of the board: digits only, e.g. 549755885175.",
        }
    ]
    assert in_port["schema"]["properties"]["boardId"]["pattern"] == "^\\d+$"
    assert card["outPorts"][0]["schema"]["required"] == ["id"]
    assert card["propertiesSchema"] == {}


def test_allowed_values_are_listed_where_the_schema_gives_them(capsys):
    assert main(["components", "GetBoard"]) == 0
    assert '    privacy: one of "PUBLIC", "PROTECTED", "SECRET"\n' in capsys.readouterr().out


def test_without_a_name_every_component_is_still_listed(capsys):
    assert main(["components"]) == 0
    out = capsys.readouterr().out
    assert "acme.pinterest.GetBoard  (action)" in out
    assert "flowmixer.core.Webhook  (webhook trigger)" in out
