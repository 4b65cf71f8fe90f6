"""Incremental parsing: the document re-using unchanged steps equals a full parse, or is one."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from osiris_runtime.oml.connections import ConnectionsFile
from osiris_runtime.oml.document import OmlDocument, parse_oml
from osiris_runtime.oml.incremental import StepChunkCache, _assemble, parse_oml_reusing
from osiris_runtime.oml.rules import validate
from osiris_runtime.registry import Registry

COMPONENTS = ("mysql.extractor", "mysql.writer", "duckdb.processor", "supabase.writer", "nope.thing")
SCALARS = ("5000", "abc", '"@mysql.shop"', "'@mysql.nope'", "SELECT * FROM t", "[id, name]",
           "{a: 1}", "true", "", "${params.since}", "${params.nope}", "hunter2", "a != b")


def _state(doc: OmlDocument) -> tuple[Any, ...]:
    return (doc.data, list(doc._values.items()), list(doc._keys.items()), doc.syntax_diagnostics)


def _assert_same(text: str, cache: StepChunkCache, registry: Registry, connections: ConnectionsFile) -> None:
    full = parse_oml(text, "p.yaml")
    incremental = parse_oml_reusing(text, "p.yaml", cache)
    assert _state(incremental) == _state(full)
    assert validate(incremental, registry, connections=connections) == validate(full, registry, connections=connections)


@st.composite
def pipelines(draw: st.DrawFn) -> list[str]:
    indent = draw(st.sampled_from(["", "  ", "    "]))
    lines = ['oml_version: "0.1.0"', "name: p", "params:", "  since: {type: string}", "steps:"]
    for n in range(draw(st.integers(1, 6))):
        lines.append(f"{indent}- id: s{draw(st.integers(0, 4))}")
        lines.append(f"{indent}  component: {draw(st.sampled_from(COMPONENTS))}")
        lines.append(f"{indent}  mode: {draw(st.sampled_from(['read', 'write', 'transform']))}")
        if draw(st.booleans()):
            lines.append(f"{indent}  needs: [s{draw(st.integers(0, 4))}]")
        lines.append(f"{indent}  config:")
        for key in draw(st.lists(st.sampled_from(["connection", "query", "table", "password", "batch_size"]),
                                 max_size=4, unique=True)):
            lines.append(f"{indent}    {key}: {draw(st.sampled_from(SCALARS))}")
        if draw(st.booleans()):
            lines.append("")
    return lines


EDITS = ("set_value", "insert_step", "delete_line", "break_line", "comment", "rename_id", "syntax_error",
         "dedent", "insert_chars")


@st.composite
def edited(draw: st.DrawFn) -> tuple[str, list[str]]:
    lines = draw(pipelines())
    before = "\n".join(lines)
    edits = list(lines)
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(5, max(5, len(edits) - 1)))
        kind = draw(st.sampled_from(EDITS))
        line = edits[at] if at < len(edits) else ""
        if kind == "set_value" and ":" in line:
            edits[at] = line.split(":", 1)[0] + ": " + draw(st.sampled_from(SCALARS))
        elif kind == "insert_step":
            indent = " " * (len(line) - len(line.lstrip(" ")))
            edits[at:at] = [f"{indent}- id: new", f"{indent}  component: mysql.writer"]
        elif kind == "delete_line" and at < len(edits):
            del edits[at]
        elif kind == "break_line" and at < len(edits):
            cut = draw(st.integers(0, len(line)))
            edits[at:at + 1] = [line[:cut], line[cut:]]
        elif kind == "comment":
            edits.insert(at, draw(st.sampled_from(["# note", "  # note", "      # x"])))
        elif kind == "rename_id":
            edits = [e.replace("s1", "s9") for e in edits]
        elif kind == "syntax_error":
            edits.insert(at, draw(st.sampled_from(["    conf", "  - {", '    query: "open', "key: [", "\tx: 1"])))
        elif kind == "dedent" and at < len(edits):
            edits[at] = line.lstrip(" ")
        elif kind == "insert_chars" and at < len(edits):
            cut = draw(st.integers(0, len(line)))
            edits[at] = line[:cut] + draw(st.sampled_from(["x", " ", ":", "-", "*a", "&b", "!t", "'"])) + line[cut:]
    return before, ["\n".join(edits)]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edited())
def test_incremental_parse_equals_full_parse_after_edits(
    registry: Registry, connections: ConnectionsFile, case: tuple[str, list[str]]
) -> None:
    before, after = case
    cache = StepChunkCache()
    _assert_same(before, cache, registry, connections)
    for text in after:
        _assert_same(text, cache, registry, connections)
        _assert_same(text, cache, registry, connections)  # now every chunk comes from the cache


def test_unchanged_steps_are_reused_and_the_fast_path_is_taken(valid_pipeline: str) -> None:
    cache = StepChunkCache()
    assert _assemble(valid_pipeline, cache) is not None
    first = parse_oml_reusing(valid_pipeline, None, cache)
    edited = valid_pipeline.replace("table: orders", "table: orders2")
    second = parse_oml_reusing(edited, None, cache)
    assert second.data["steps"][0] is first.data["steps"][0]  # unchanged step: the same parse
    assert second.data["steps"][2] is not first.data["steps"][2]
    assert _state(second) == _state(parse_oml(edited))


def test_the_same_step_twice_gets_two_parses() -> None:
    step = "  - id: a\n    component: mysql.writer\n"
    text = "oml_version: '0.1.0'\nsteps:\n" + step + step
    cache = StepChunkCache()
    parse_oml_reusing(text, None, cache)
    doc = parse_oml_reusing(text, None, cache)
    assert doc.data["steps"][0] == doc.data["steps"][1]
    assert doc.data["steps"][0] is not doc.data["steps"][1]


@pytest.mark.parametrize(
    "text",
    [
        "oml_version: '0.1.0'\nsteps: [{id: a}]\n",  # flow-style steps
        "oml_version: '0.1.0'\nsteps:\n  - id: a\nname: after\n",  # a suffix after the steps
        "oml_version: '0.1.0'\nsteps:\n  - id: &x a\n  - id: *x\n",  # anchor and alias across steps
        "oml_version: '0.1.0'\nsteps:\n  - id: !custom a\n",  # a tag
        "---\noml_version: '0.1.0'\nsteps:\n  - id: a\n",  # a document marker
        "oml_version: '0.1.0'\nsteps:\n  - id: a\n---\nsteps: []\n",  # a second document
        "oml_version: '0.1.0'\nsteps:\n\t- id: a\n",  # a tab
        "oml_version: '0.1.0'\r\nsteps:\r\n  - id: a\r\n",  # carriage returns
        "oml_version: '0.1.0'\nsteps:\n  - id: a\u2028b\n  - id: c\n",  # a YAML line break that is not \\n
        "oml_version: '0.1.0'\nsteps:\n  - id: a\x85b\n  - id: c\n",
        "steps: 1\nsteps:\n  - id: a\n",  # a duplicate top-level key
        "oml_version: '0.1.0'\nsteps:\n  - id: a\n  - id: [\n",  # a syntax error in a step
        "oml_version: [\nsteps:\n  - id: a\n",  # a syntax error in the header
        "oml_version: '0.1.0'\nsteps:\n",  # no steps
        "oml_version: '0.1.0'\nsteps:\n  id: a\n",  # steps as a mapping
        "- a\nsteps:\n  - id: a\n",  # not a mapping at the top
    ],
)
def test_fallbacks_equal_a_full_parse(text: str, registry: Registry, connections: ConnectionsFile) -> None:
    assert _assemble(text, StepChunkCache()) is None
    _assert_same(text, StepChunkCache(), registry, connections)


def test_an_edit_inside_one_step_on_the_same_lines_reuses_every_other_step(valid_pipeline: str) -> None:
    cache = StepChunkCache()
    first = parse_oml_reusing(valid_pipeline, None, cache)
    for edited in (valid_pipeline.replace("table: orders", "table: orders_x"),  # typing in a value
                   valid_pipeline.replace("    mode: write\n", "  - mode: write\n"),  # now a new item
                   valid_pipeline.replace("    mode: write\n", "mode: write\n"),  # now after the steps
                   valid_pipeline.replace("      table: orders\n", "  # table: orders\n"),  # a comment
                   valid_pipeline.replace("  - id: push-orders", "  -id: push-orders")):  # no longer an item
        second = parse_oml_reusing(edited, None, cache)
        assert _state(second) == _state(parse_oml(edited))
        parse_oml_reusing(valid_pipeline, None, cache)
    typed = parse_oml_reusing(valid_pipeline.replace("table: orders", "table: orders_y"), None, cache)
    assert typed.data["steps"][0] is first.data["steps"][0]
