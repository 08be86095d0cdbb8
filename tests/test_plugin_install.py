"""Plug-in components in real processes: a package pip-installed from ``tests/fixtures`` and a
``FLOWMIXER_COMPONENTS_PATH`` folder are listed, shown, validated and run in a flow, and a
broken plug-in is named without hiding the others. Nothing of flowmixer changes for them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from tests.serve_process import Admin, ServeProcess

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Plugin:
    """How a plug-in reaches a child process, and what its component makes of "Hello"."""

    env: dict[str, str]
    component: str
    origin: str
    expected: str
    command: tuple[str, str, str]  # the sub-command its service manifest adds, text, output


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture package, pip-installed (offline, no build tools needed) into a target."""
    work = tmp_path_factory.mktemp("plugin")
    source = shutil.copytree(FIXTURES / "plugin_package", work / "source")
    target = work / "site"
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    offline = ["--no-deps", "--no-index", "--no-build-isolation"]
    subprocess.run(
        [*pip, *offline, "--target", str(target), str(source)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return target


def child_env(tmp_path: Path, *, python_path: list[Path], components_path: str = "") -> dict:
    env = {k: v for k, v in os.environ.items() if k != "FLOWMIXER_COMPONENTS_PATH"}
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in [*python_path, REPO])
    env["FLOWMIXER_HOME"] = str(tmp_path / "home")
    env["FLOWMIXER_LOG_FORMAT"] = "json"
    if components_path:
        env["FLOWMIXER_COMPONENTS_PATH"] = components_path
    return env


@pytest.fixture(params=["installed-package", "components-path"])
def plugin(request: pytest.FixtureRequest, tmp_path: Path) -> Plugin:
    if request.param == "installed-package":
        target = request.getfixturevalue("installed")
        return Plugin(
            child_env(tmp_path, python_path=[target]),
            "shoutco.text.Shout",
            'package "flowmixer-shout" (entry point shout = flowmixer_shout)',
            "HELLO!",
            ("shout", "Hello", "HELLO!"),
        )
    folder = FIXTURES / "plugin_folder"
    return Plugin(
        child_env(tmp_path, python_path=[], components_path=str(folder)),
        "whisperco.text.Whisper",
        f"folder {folder} (FLOWMIXER_COMPONENTS_PATH)",
        "hello",
        ("whisper", "Hello", "hello"),
    )


def flowmixer(env: dict, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runtime.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        check=False,
        timeout=60,
    )


def write_flow(tmp_path: Path, component: str) -> Path:
    flow = {
        "id": "plugged",
        "components": {
            "hook": {"type": "flowmixer.core.Webhook"},
            "plugged": {"type": component, "source": {"in": {"hook": ["out"]}}},
        },
    }
    path = tmp_path / "flow.json"
    path.write_text(json.dumps(flow))
    return path


def test_a_plugin_component_is_listed_among_the_built_in_ones(plugin, tmp_path):
    listed = flowmixer(plugin.env, "components", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    names = [item["name"] for item in json.loads(listed.stdout)]
    assert plugin.component in names
    assert "acme.pinterest.GetBoard" in names
    assert "warning" not in listed.stderr


def test_a_plugin_component_is_shown_with_its_fields_and_its_plugin(plugin, tmp_path):
    shown = flowmixer(plugin.env, "components", plugin.component.rsplit(".", 1)[1], cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith(f"{plugin.component}  (action")
    assert f"plug-in     {plugin.origin}" in shown.stdout
    assert "    text: string, required" in shown.stdout


def test_a_flow_using_a_plugin_component_validates_and_runs(plugin, tmp_path):
    flow = write_flow(tmp_path, plugin.component)
    event = tmp_path / "event.json"
    event.write_text('{"text": "Hello"}')
    validated = flowmixer(plugin.env, "validate", str(flow), cwd=tmp_path)
    assert validated.returncode == 0, validated.stderr
    assert "ok (flow 'plugged', 2 components)" in validated.stdout
    ran = flowmixer(
        plugin.env, "run", str(flow), "--push", f"hook={event}", "--until-idle", cwd=tmp_path
    )
    assert ran.returncode == 0, ran.stderr
    outputs = [json.loads(line) for line in ran.stdout.splitlines()]
    assert [(o["component"], o["payload"]) for o in outputs] == [
        ("plugged", {"text": plugin.expected})
    ]


def test_a_broken_plugin_is_named_with_its_file_and_json_path_and_hides_no_other(
    installed, tmp_path
):
    broken = tmp_path / "broken"
    broken.mkdir()
    manifest = json.loads((FIXTURES / "plugin_folder" / "Whisper.json").read_text())
    manifest["handler"] = "flowmixer_whisper:Whisperr"
    (broken / "Whisper.json").write_text(json.dumps(manifest))
    shutil.copy(FIXTURES / "plugin_folder" / "flowmixer_whisper.py", broken)
    env = child_env(tmp_path, python_path=[installed], components_path=str(broken))
    flow = write_flow(tmp_path, "shoutco.text.Shout")

    for args in (["components"], ["validate", str(flow)]):
        done = flowmixer(env, *args, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert (
            f"flowmixer: warning: plug-in folder {broken} (FLOWMIXER_COMPONENTS_PATH):"
            " invalid manifest (1 problem(s)):\n"
            '  - Whisper.json $.handler: names "Whisperr", which module "flowmixer_whisper"'
            ' lacks; did you mean "Whisper"?'
        ) in done.stderr
        assert "1 plug-in(s) left out (above); the other components are loaded" in done.stderr
    listed = flowmixer(env, "components", cwd=tmp_path).stdout
    assert "shoutco.text.Shout  (action)" in listed
    assert "flowmixer.core.Webhook" in listed
    assert "whisperco.text.Whisper" not in listed


async def test_serve_names_a_broken_plugin_and_deploys_flows_of_the_others(tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "Bad.json").write_text("{}")
    path = os.pathsep.join([str(broken), str(FIXTURES / "plugin_folder")])
    server = ServeProcess(tmp_path / "home", {"FLOWMIXER_COMPONENTS_PATH": path}, cwd=tmp_path)
    url = await server.start()
    try:
        async with aiohttp.ClientSession() as session:
            flow = json.loads(write_flow(tmp_path, "whisperco.text.Whisper").read_text())
            status, deployed = await Admin(session, url).api("POST", "/api/flows", flow)
        assert status in (200, 201), deployed
    finally:
        await server.stop()
    log = "".join(server.lines)
    assert f"flowmixer: warning: plug-in folder {broken} (FLOWMIXER_COMPONENTS_PATH)" in log
    assert "  - Bad.json $.name:" in log


def test_a_plugins_service_manifest_adds_a_sub_command_to_flowmixer(plugin, tmp_path):
    name, text, expected = plugin.command
    helped = flowmixer(plugin.env, "--help", cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr
    assert name in helped.stdout
    done = flowmixer(plugin.env, name, text, cwd=tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (0, expected + "\n", "")


def test_a_plugin_whose_commands_fail_is_named_on_stderr_and_hides_no_other_command(
    installed, tmp_path
):
    broken = tmp_path / "broken"
    broken.mkdir()
    service = {"service": "brokenco:api", "label": "Broken", "commands": "brokenco_cli"}
    (broken / "service.json").write_text(json.dumps(service))
    (broken / "brokenco_cli.py").write_text("raise ImportError('no such thing')\n")
    env = child_env(tmp_path, python_path=[installed], components_path=str(broken))
    done = flowmixer(env, "shout", "still here", cwd=tmp_path)
    assert (done.returncode, done.stdout) == (0, "STILL HERE!\n")
    assert done.stderr == (
        f"flowmixer: warning: plug-in folder {broken} (FLOWMIXER_COMPONENTS_PATH): service.json"
        ' $.commands: the module "brokenco_cli" could not add its commands (ImportError: no'
        " such thing); the other commands are available\n"
    )
    demo = flowmixer(env, "demo", "--help", cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
