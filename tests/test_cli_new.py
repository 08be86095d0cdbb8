"""``flowmixer new component``: the files it writes load as a plug-in folder in real child
processes, and the test it writes passes; bad names and existing files are refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.cli import main
from runtime.cli.new import full_name, module_name, scaffold_component
from runtime.manifest import NAME_PATTERN, ComponentManifest

REPO = Path(__file__).resolve().parent.parent

KINDS = [
    pytest.param([], "acme.crm.FindContact", "acme_crm_find_contact", id="action"),
    pytest.param(["--trigger"], "acme.crm.NewContacts", "acme_crm_new_contacts", id="trigger"),
]


def child_env(tmp_path: Path, folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env["PYTHONPATH"] = str(REPO)
    env["FLOWMIXER_HOME"] = str(tmp_path / "home")
    env["FLOWMIXER_COMPONENTS_PATH"] = str(folder)
    return env


def child(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        check=False,
        timeout=120,
    )


@pytest.mark.slow
@pytest.mark.parametrize(("flags", "name", "module"), KINDS)
def test_the_scaffold_is_a_plugin_folder_whose_own_test_passes(
    flags, name, module, tmp_path, capsys
):
    folder = tmp_path / "mine"
    assert main(["new", "component", name, *flags, "--dir", str(folder)]) == 0
    printed = capsys.readouterr().out
    assert f"export FLOWMIXER_COMPONENTS_PATH={folder}" in printed
    assert f"python -m pytest {folder}" in printed
    assert f"flowmixer components {name}" in printed
    short = name.rsplit(".", 1)[1]
    written = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert written == {f"manifests/{short}.json", f"{module}.py", f"test_{module}.py"}
    env = child_env(tmp_path, folder)

    shown = child(env, "-m", "runtime.cli", "components", name, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    kind = "polling trigger" if flags else "action"
    assert shown.stdout.startswith(f"{name}  ({kind}")
    assert f"plug-in     folder {folder} (FLOWMIXER_COMPONENTS_PATH)" in shown.stdout
    assert "warning" not in shown.stderr

    flow = {"id": "mine", "components": {"mine": {"type": name}}}
    if not flags:
        flow["components"] = {
            "hook": {"type": "flowmixer.core.Webhook"},
            "mine": {"type": name, "source": {"in": {"hook": ["out"]}}},
        }
    (tmp_path / "flow.json").write_text(json.dumps(flow))
    validated = child(env, "-m", "runtime.cli", "validate", "flow.json", cwd=tmp_path)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "ok (flow 'mine'" in validated.stdout

    tested = child(env, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder), cwd=tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "1 passed" in tested.stdout


def test_a_short_name_is_put_under_custom_components(tmp_path, capsys):
    assert main(["new", "component", "Greet", "--dir", str(tmp_path)]) == 0
    manifest = json.loads((tmp_path / "manifests" / "Greet.json").read_text())
    assert manifest["name"] == "custom.components.Greet"
    assert manifest["handler"] == "custom_components_greet:Greet"
    assert (tmp_path / "custom_components_greet.py").is_file()


@pytest.mark.parametrize(
    "name",
    ["greet", "acme.Greet", "Acme.crm.Greet", "acme.crm.greet", "acme.crm.Gr eet", "a.b.C.D"],
    ids=["lowercase", "two-parts", "capital-vendor", "lowercase-last", "space", "four-parts"],
)
def test_an_invalid_name_is_refused_with_exit_2_saying_what_a_name_looks_like(
    name, tmp_path, capsys
):
    assert main(["new", "component", name, "--dir", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert f"flowmixer new: error: {name!r} is not a component name: give vendor.service.Name" in (
        error
    )
    assert list(tmp_path.iterdir()) == []


def test_existing_files_are_not_overwritten_without_force(tmp_path, capsys):
    assert main(["new", "component", "Greet", "--dir", str(tmp_path)]) == 0
    handler = tmp_path / "custom_components_greet.py"
    handler.write_text("# my own work\n")
    (tmp_path / "manifests" / "Greet.json").unlink()
    capsys.readouterr()

    assert main(["new", "component", "Greet", "--dir", str(tmp_path)]) == 1
    error = capsys.readouterr().err
    assert f"not written: {handler}" in error
    assert "give --force to overwrite" in error
    assert handler.read_text() == "# my own work\n"
    assert not (tmp_path / "manifests" / "Greet.json").exists()  # nothing half-written

    assert main(["new", "component", "Greet", "--dir", str(tmp_path), "--force"]) == 0
    assert "class Greet(Component)" in handler.read_text()


names = st.from_regex(NAME_PATTERN, fullmatch=True)


@given(name=names, trigger=st.booleans())
def test_every_valid_name_gives_a_valid_manifest_and_python_that_compiles(name, trigger):
    scaffold = scaffold_component(name, trigger=trigger)
    short = name.rsplit(".", 1)[1]
    manifest = ComponentManifest.model_validate_json(scaffold.files[f"manifests/{short}.json"])
    assert manifest.name == name
    assert manifest.handler == f"{module_name(name)}:{short}"
    assert manifest.is_trigger is trigger
    assert scaffold.module.isidentifier()
    for path, text in scaffold.files.items():
        if path.endswith(".py"):
            compile(text, path, "exec")


@given(short=st.from_regex(r"[A-Z][A-Za-z0-9]*", fullmatch=True))
def test_a_short_name_is_completed_to_a_valid_full_name(short):
    assert NAME_PATTERN.match(full_name(short))
