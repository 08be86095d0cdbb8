"""Nothing outside ``runtime/stores/`` writes SQL: every statement the runtime and the components
send to a database lives in a store module, so a schema change is found in one folder.

The scan reads each module's string literals with ``ast`` (f-strings with their holes as
``{}``, implicitly joined literals as one) and looks for the start of a statement written the
way this codebase writes SQL, keywords in capitals: ``SELECT ... FROM``, ``INSERT INTO``,
``UPDATE ... SET``, ``DELETE FROM``, ``CREATE TABLE``, a literal that is only ``BEGIN`` or
``COMMIT``, ``PRAGMA``, ``pg_advisory``. Docstrings and comments are documentation and are not
read; neither is English prose, whose words are not in capitals nor shaped like a statement
(an HTTP ``DELETE`` is no ``DELETE FROM``).
"""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parent.parent
SCANNED = (REPO / "runtime", REPO / "components")
STORES = REPO / "runtime" / "stores"

IDENT = r"[\w.{}\"]+"
STATEMENT = re.compile(
    "|".join(
        (
            r"\bSELECT\b.*?\bFROM\b",
            r"^\s*\(?\s*SELECT\s",
            r"\bINSERT\s+(?:OR\s+[A-Z]+\s+)?INTO\s",
            rf"\bUPDATE\s+{IDENT}\s+SET\b",
            r"\bDELETE\s+FROM\s",
            r"\bCREATE\s+(?:UNIQUE\s+)?(?:TABLE|INDEX|SEQUENCE|VIEW|TRIGGER)\b",
            r"\b(?:DROP|ALTER)\s+(?:TABLE|INDEX|SEQUENCE|VIEW|TRIGGER)\b",
            r"^\s*(?:BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|END)"
            r"(?:\s+(?:IMMEDIATE|EXCLUSIVE|DEFERRED|TRANSACTION|TO\s+\w+))?\s*;?\s*$",
            r"\bPRAGMA\s+\w",
            r"\bpg_(?:try_)?advisory",
        )
    ),
    re.DOTALL,
)


def _text(node: ast.JoinedStr) -> str:
    """An f-string's text, each hole written ``{}``."""
    return "".join(
        part.value if isinstance(part, ast.Constant) else "{}"
        for part in node.values
        if isinstance(part, ast.Constant | ast.FormattedValue)
    )


def sql_literals(source: str, where: str) -> list[str]:
    """``where:line: text`` of each string literal of ``source`` holding an SQL statement,
    docstrings (and any other string statement) left out."""
    tree = ast.parse(source)
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant | ast.JoinedStr):
            skipped.add(id(node.value))  # a docstring: documentation, not a statement
        if isinstance(node, ast.JoinedStr):  # read whole, not as its pieces
            skipped.update(id(part) for part in node.values)
    found: list[str] = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        elif isinstance(node, ast.JoinedStr):
            text = _text(node)
        else:
            continue
        if STATEMENT.search(text):
            found.append(f"{where}:{node.lineno}: {' '.join(text.split())[:80]}")
    return found


def modules_outside_stores() -> list[Path]:
    return sorted(
        path for root in SCANNED for path in root.rglob("*.py") if STORES not in path.parents
    )


def test_no_module_outside_runtime_stores_holds_an_sql_statement():
    found = [
        hit
        for path in modules_outside_stores()
        for hit in sql_literals(path.read_text(encoding="utf-8"), str(path.relative_to(REPO)))
    ]
    assert found == [], "SQL outside runtime/stores/ (move it into a store module):\n" + "\n".join(
        found
    )


def test_the_scan_reads_the_runtime_the_components_and_not_the_stores():
    scanned = {path.relative_to(REPO).as_posix() for path in modules_outside_stores()}
    assert "runtime/brokers/sqlite.py" in scanned
    assert "components/pinterest/client.py" in scanned
    assert not any(name.startswith("runtime/stores/") for name in scanned)
    # The scan would see the stores' statements, were they outside.
    assert sql_literals((STORES / "sqlite_messages.py").read_text(encoding="utf-8"), "m")


STATEMENTS = {
    "select-from": 'rows = conn.execute("SELECT seq, parked FROM messages WHERE seq = ?")',
    "select-without-from": "n = await conn.fetchval(\"SELECT nextval('broker_owner_seq')\")",
    "insert": 'conn.execute("INSERT OR REPLACE INTO hook_keys (a) VALUES (?)", row)',
    "update-f-string": 'conn.execute(f"UPDATE {table} SET owner = NULL WHERE seq = $1")',
    "delete-joined": '_SQL = ("DELETE FROM messages"\n    " WHERE flow_id = ?")',
    "create": 'STEP = """CREATE TABLE IF NOT EXISTS flows (id text PRIMARY KEY)"""',
    "begin": 'conn.execute("BEGIN IMMEDIATE")',
    "commit": 'conn.execute("COMMIT")',
    "pragma": 'conn.execute("PRAGMA user_version")',
    "advisory": 'await conn.execute("SELECT pg_advisory_xact_lock($1)", key)',
    "in-a-call-argument": 'run(query="DELETE FROM state WHERE flow_id = $1")',
}


@pytest.mark.parametrize("snippet", list(STATEMENTS.values()), ids=list(STATEMENTS))
def test_the_scan_finds_a_statement_in_a_string_literal_and_names_its_line(snippet: str):
    source = f"import x\n\n{snippet}\n"

    found = sql_literals(source, "m.py")

    assert len(found) == 1
    assert found[0].startswith("m.py:3: ")


PROSE = {
    "docstring": '''def f():
    """Claims are ``UPDATE messages SET owner = $3 FROM (SELECT seq FROM messages)``,
    under ``BEGIN IMMEDIATE`` and ``pg_advisory_lock``; DELETE FROM none."""''',
    "module-docstring": '"""The rows: ``SELECT * FROM messages``; ``INSERT INTO state``."""',
    "attribute-docstring": 'X = 1\n"""Read with ``SELECT x FROM t``."""',
    "comment": "x = 1  # DELETE FROM messages WHERE seq = ?, under BEGIN IMMEDIATE",
    "english": 'raise ValueError("delete from the queue and select a flow from the list")',
    "http-method": 'await self.request("DELETE", f"/boards/{board_id}")',
    "http-route": 'ROUTE = "DELETE /api/flows/{id}: stop and forget the flow"',
    "capital-sentence": 'log("Update the settings, then begin again; Commit to it")',
    "begin-in-a-sentence": 'print("BEGIN the tick, then COMMIT its writes")',
    "pragma-in-prose": 'help_text = "pragma: no cover"',
}


@pytest.mark.parametrize("snippet", list(PROSE.values()), ids=list(PROSE))
def test_the_scan_passes_over_documentation_comments_and_prose(snippet: str):
    assert sql_literals(textwrap.dedent(snippet) + "\n", "m.py") == []


# SQL's keywords among plain words, as a sentence of an error message may hold them.
VOCABULARY = (
    "delete select insert update create begin commit rollback pragma"
    " from into set table the a queue flow rows of in to"
)
WORDS = st.sampled_from(VOCABULARY.split())


@given(st.lists(WORDS, min_size=1, max_size=12))
def test_no_sentence_of_lowercase_words_is_taken_for_a_statement(words: list[str]):
    sentence = " ".join(words)
    capitalized = sentence[0].upper() + sentence[1:]

    assert sql_literals(f"message = {capitalized!r}\n", "m.py") == []


@given(st.from_regex(r"[a-z_][a-z0-9_]{0,20}", fullmatch=True))
def test_a_delete_from_any_table_is_found(table: str):
    assert len(sql_literals(f'q = "DELETE FROM {table} WHERE id = ?"\n', "m.py")) == 1
