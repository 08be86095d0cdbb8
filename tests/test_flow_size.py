"""Big flows: checked in time proportional to their size, and refused past the size limit."""

from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.errors import FlowValidationError
from runtime.flow import validate_flow
from runtime.flow_wiring import Upstream, Wires
from runtime.registry import Registry


def chain(size: int) -> dict[str, Any]:
    """A webhook, then ``size - 1`` filters in a chain, each reading its source by template."""
    components: dict[str, Any] = {"c0": {"type": "flowmixer.core.Webhook"}}
    for i in range(1, size):
        components[f"c{i}"] = {
            "type": "flowmixer.core.Filter",
            "source": {"in": {f"c{i - 1}": ["out"]}},
            "config": {
                "properties": {"field": "a", "operator": "exists"},
                "transform": {"in": {"a": f"{{{{{{$.c{i - 1}.out.a}}}}}}", "b": "{{{$.c0.out}}}"}},
            },
        }
    return {"id": "big", "components": components}


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load()


def _cpu_seconds(flow: dict[str, Any], registry: Registry) -> float:
    # CPU time of this process: other processes on the machine do not count.
    best = float("inf")
    for _ in range(2):
        began = time.process_time()
        validate_flow(flow, registry)
        best = min(best, time.process_time() - began)
    return best


@pytest.mark.timeout(300)
def test_checking_a_flow_takes_time_proportional_to_its_size(registry):
    small, big = _cpu_seconds(chain(1_000), registry), _cpu_seconds(chain(13_000), registry)

    assert big / small < 30  # 13 times the components: near 13 times the time, not 169


def test_a_flow_over_the_size_limit_is_refused_with_a_clear_problem(registry):
    with pytest.raises(FlowValidationError) as caught:
        validate_flow(chain(51), registry, max_components=50)

    [problem] = caught.value.problems
    assert problem.path == "$.components"
    assert problem.message == (
        "has 51 components; a flow may have at most 50: split it into several flows"
    )


def test_a_flow_at_the_size_limit_is_accepted(registry):
    assert len(validate_flow(chain(50), registry, max_components=50).nodes) == 50


# -- what is upstream, against a plain search ------------------------------------------------


def _reference(wires: Wires, ref: str, port: str, cid: str) -> bool:
    seen, todo, found = {cid}, [cid], set()
    while todo:
        for feeds in wires[todo.pop()].values():
            for source, ports in feeds.items():
                found.update((source, p) for p in ports)
                if source not in seen:
                    seen.add(source)
                    todo.append(source)
    return (ref, port) in found


@st.composite
def _dags(draw: st.DrawFn) -> Wires:
    size = draw(st.integers(min_value=1, max_value=9))
    wires: Wires = {}
    for i in range(size):
        sources = draw(st.lists(st.integers(min_value=0, max_value=i - 1), max_size=3)) if i else []
        wires[f"n{i}"] = {
            "in": {
                f"n{s}": draw(
                    st.lists(st.sampled_from(["out", "err"]), min_size=1, max_size=2, unique=True)
                )
                for s in sources
            }
        }
    return wires


@settings(max_examples=200, deadline=None)
@given(_dags(), st.data())
def test_upstream_answers_what_a_plain_search_of_the_wires_finds(wires, data):
    upstream = Upstream(wires)
    cid = data.draw(st.sampled_from(list(wires)))
    ref = data.draw(st.sampled_from(list(wires)))
    port = data.draw(st.sampled_from(["out", "err"]))

    assert upstream.feeds(ref, port, cid) == _reference(wires, ref, port, cid)
