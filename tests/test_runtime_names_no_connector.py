"""The runtime names no connector: a connector's name may appear in ``runtime/`` only as a
documentation example (a docstring, a comment, an argparse ``help``/``description``/``epilog``),
never in code, so that every connector, built in or a plug-in, declares what it needs itself."""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
RUNTIME = REPO / "runtime"
# The connectors shipped in components/ (besides flowmixer's own core components).
CONNECTORS = sorted(
    p.name
    for p in (REPO / "components").iterdir()
    if p.is_dir() and p.name != "core" and not p.name.startswith("_")
)
DOC_KEYWORDS = frozenset({"help", "description", "epilog"})

Span = tuple[tuple[int, int], tuple[int, int]]


def _span(node: ast.expr) -> Span:
    assert node.end_lineno is not None
    assert node.end_col_offset is not None
    return (node.lineno, node.col_offset), (node.end_lineno, node.end_col_offset)


def documentation_spans(tree: ast.AST) -> list[Span]:
    """Where documentation text is: string statements (docstrings, attribute docstrings) and
    the values of ``help=``, ``description=`` and ``epilog=`` arguments."""
    spans: list[Span] = []
    for node in ast.walk(tree):
        string_statement = (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        )
        doc_argument = isinstance(node, ast.keyword) and node.arg in DOC_KEYWORDS
        if string_statement or doc_argument:
            spans.append(_span(node.value))  # type: ignore[attr-defined]
    return spans


def mentions(source: str, name: str, where: str) -> list[str]:
    """``where:line`` of each place ``source`` names ``name`` (any case) outside documentation."""
    spans = documentation_spans(ast.parse(source))
    found: list[str] = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT or name not in token.string.lower():
            continue
        inside = any(start <= token.start and token.end <= end for start, end in spans)
        if not inside:
            found.append(f"{where}:{token.start[0]}: {token.line.strip()}")
    return found


def test_there_is_a_built_in_connector_to_look_for():
    assert "pinterest" in CONNECTORS


@pytest.mark.parametrize("connector", CONNECTORS)
def test_the_runtime_names_the_connector_only_in_documentation_examples(connector):
    found = [
        line
        for path in sorted(RUNTIME.rglob("*.py"))
        for line in mentions(path.read_text("utf-8"), connector, str(path.relative_to(REPO)))
    ]
    assert found == [], "the runtime names a connector outside documentation:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("source", "flagged"),
    [
        ('"""Reads e.g. acme:pinterest."""\n', []),
        ('X = 1\n"""Like ``PINTEREST_ACCESS_TOKEN``."""\n', []),
        ("x = 1  # as Pinterest does\n", []),
        ('p.add_argument("s", help="e.g. acme:pinterest")\n', []),
        ('p.add_parser("a", description="for Pinterest " "and others")\n', []),
        ('HOOKS = {"acme:pinterest": "x"}\n', [1]),
        ("import components.pinterest.cli\n", [1]),
        ('def f():\n    """Doc."""\n    return f"{pinterest_base}/v5"\n', [3]),
        ('raise ValueError("e.g. acme.pinterest.CreatePin")\n', [1]),
    ],
    ids=[
        "docstring",
        "attribute-docstring",
        "comment",
        "help",
        "description",
        "table-key",
        "import",
        "name-in-code",
        "error-message",
    ],
)
def test_the_check_allows_documentation_and_flags_anything_else_by_line(source, flagged):
    found = mentions(source, "pinterest", "m.py")
    assert [int(line.split(":")[1]) for line in found] == flagged
