"""Re-used step findings: validating an edited document with the last version's findings gives
exactly what validating it from scratch gives, also for unchanged steps whose diagnostics depend
on what another step, the params or the connections file say."""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from osiris_runtime.errors import Diagnostic
from osiris_runtime.oml.connections import ConnectionsFile, parse_connections
from osiris_runtime.oml.document import parse_oml
from osiris_runtime.oml.incremental import StepChunkCache, parse_oml_reusing
from osiris_runtime.oml.rules import validate
from osiris_runtime.registry import Registry

HERE = Path(__file__).parent


def _load(path: Path) -> Any:
    """A module by file (the tests import in importlib mode: siblings are not on sys.path)."""
    name = f"rule_reuse_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = sys.modules[name] = importlib.util.module_from_spec(spec)  # dataclasses look themselves up
    spec.loader.exec_module(module)
    return module


_fixtures = _load(HERE / "conftest.py")
CONNECTIONS_TEXT, VALID_PIPELINE = _fixtures.CONNECTIONS_TEXT, _fixtures.VALID_PIPELINE
edited = _load(HERE / "test_incremental.py").edited  # random pipelines and edits of them


def _workload() -> Any:
    return _load(HERE.parents[1] / "bench" / "lsp" / "oml_workload.py")


class Editor:
    """Validates successive versions of one document the way the language server's worker does."""

    def __init__(self, registry: Registry, **options: Any) -> None:
        self.registry, self.options, self.cache = registry, options, StepChunkCache()

    def validate(self, text: str, **options: Any) -> list[Diagnostic]:
        given_options = {**self.options, **options}
        doc = parse_oml_reusing(text, "p.yaml", self.cache)
        reused = validate(doc, self.registry, reuse=self.cache.rule_results, **given_options)
        assert reused == validate(parse_oml(text, "p.yaml"), self.registry, **given_options)
        return reused


def _codes_at(found: list[Diagnostic], text: str, needle: str) -> set[str]:
    line = next(n for n, line in enumerate(text.split("\n")) if needle in line)
    return {d.code for d in found if d.range.start.line == line}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edited(), st.booleans())
def test_reused_findings_equal_validating_from_scratch_after_random_edits(
    registry: Registry, connections: ConnectionsFile, case: tuple[str, list[str]], with_discovery: bool
) -> None:
    before, after = case
    editor = Editor(registry, connections=connections, discovery={} if with_discovery else None)
    editor.validate(before)
    for text in after:
        editor.validate(text)
        editor.validate(text)  # every step's findings re-used
        editor.validate(before)
        editor.validate(text, connections=None)  # another connections file: nothing of the last one is kept


def test_random_edit_sequences_over_the_benchmark_workload() -> None:
    workload = _workload()
    registry = Registry()
    connections = parse_connections(workload.CONNECTIONS_YAML, Path("osiris_connections.yaml"))
    snippets = ["x", " ", "\n", "'", ": ", "${params.nope}", "${params.since}", "@mysql.nope", "extract-0003",
                "\n      password: hunter2", "\n  - id: extra\n    component: mysql.writer", "# c\n", "-", "[", "!"]
    rng = random.Random(16)
    for start in (workload.errors_file().text, workload.probe_file(50).text, workload.pipeline_text(40)):
        editor = Editor(registry, connections=connections, discovery={})
        text = start
        editor.validate(text)
        for _ in range(60):
            at = rng.randrange(len(text))
            if rng.random() < 0.1:  # the header: a param every step may use
                text = text.replace("  since:", "  sinc:") if "  since:" in text else text.replace("  sinc:", "  since:")
            elif rng.random() < 0.25:
                text = text[:at] + text[at + rng.randint(1, 12):]
            else:
                text = text[:at] + rng.choice(snippets) + text[at:]
            editor.validate(text)


def test_renaming_a_step_updates_the_step_that_needs_it(registry: Registry, connections: ConnectionsFile) -> None:
    editor = Editor(registry, connections=connections)
    assert not _codes_at(editor.validate(VALID_PIPELINE), VALID_PIPELINE, "needs: [shape]")
    renamed = VALID_PIPELINE.replace("id: shape", "id: reshape")
    assert "needs.unknown-step" in _codes_at(editor.validate(renamed), renamed, "needs: [shape]")
    assert not _codes_at(editor.validate(VALID_PIPELINE), VALID_PIPELINE, "needs: [shape]")


def test_renaming_the_step_before_a_duckdb_step_updates_the_tables_its_query_may_read(
        registry: Registry, connections: ConnectionsFile) -> None:
    """A DuckDB step without `needs` reads the step before it: its query's names follow that id."""
    text = """\
oml_version: "0.1.0"
name: t
steps:
  - id: extract-movies
    component: mysql.extractor
    mode: read
    config: {connection: "@mysql.shop", table: movies}
  - id: stats
    component: duckdb.processor
    mode: transform
    config:
      query: |
        SELECT director, COUNT(*) AS n
        FROM extract_movies GROUP BY director
"""
    editor = Editor(registry, connections=connections)

    def fix(found: list[Diagnostic]) -> list[str | None]:
        return [d.fix for d in found if d.code == "sql.unknown-table"]

    assert fix(editor.validate(text)) == ['did you mean `"extract-movies"`? (this step\'s inputs: `"extract-movies"`, '
                                          "`df_extract_movies`, `input_df`)"]
    assert fix(editor.validate(text.replace("id: extract-movies", "id: extract_movies"))) == []
    renamed = text.replace("id: extract-movies", "id: movies")
    assert fix(editor.validate(renamed)) == ["did you mean `df_movies`? (this step's inputs: `movies`, `df_movies`, `input_df`)"]
    assert len(fix(editor.validate(text))) == 1


def test_removing_a_param_updates_the_steps_that_use_it(registry: Registry, connections: ConnectionsFile) -> None:
    editor = Editor(registry, connections=connections)
    assert not _codes_at(editor.validate(VALID_PIPELINE), VALID_PIPELINE, "${params.since}")
    removed = VALID_PIPELINE.replace('  since: {type: string, default: "2024-01-01"}\n', "  other: {type: string}\n")
    assert "params.undeclared" in _codes_at(editor.validate(removed), removed, "${params.since}")


def test_changing_a_connection_alias_updates_the_steps_that_use_it(registry: Registry, connections: ConnectionsFile) -> None:
    editor = Editor(registry, connections=connections)
    assert not _codes_at(editor.validate(VALID_PIPELINE), VALID_PIPELINE, '"@mysql.warehouse"')
    renamed = parse_connections(CONNECTIONS_TEXT.replace("warehouse:", "dw:"), Path("osiris_connections.yaml"))
    found = editor.validate(VALID_PIPELINE, connections=renamed)
    assert "connection.unknown-alias" in _codes_at(found, VALID_PIPELINE, '"@mysql.warehouse"')
    # the document names the alias differently: the unchanged steps after it are checked again too
    edited_doc = VALID_PIPELINE.replace('"@mysql.warehouse"', '"@mysql.dw"')
    assert not _codes_at(editor.validate(edited_doc, connections=renamed), edited_doc, '"@mysql.dw"')


def test_findings_move_with_their_step_when_lines_are_added_above(registry: Registry, connections: ConnectionsFile) -> None:
    broken = VALID_PIPELINE.replace("write_mode: upsert", "write_mode: merge2")
    editor = Editor(registry, connections=connections)
    first = editor.validate(broken)
    moved = broken.replace("  - id: shape\n", "  # a note\n  # another\n  - id: shape\n")
    second = editor.validate(moved)
    assert [d.range.start.line for d in second] == [d.range.start.line + 2 for d in first]


def test_unchanged_steps_are_not_checked_again(registry: Registry, connections: ConnectionsFile,
                                               monkeypatch: Any) -> None:
    from osiris_runtime.oml import rules_config

    checked: list[int] = []
    original = rules_config.check_config

    def counting(ctx: Any, index: int, raw: Any, step: Any) -> None:
        checked.append(index)
        original(ctx, index, raw, step)

    monkeypatch.setattr(rules_config, "check_config", counting)
    editor = Editor(registry, connections=connections)
    doc_cache = editor.cache
    validate(parse_oml_reusing(VALID_PIPELINE, "p.yaml", doc_cache), registry, connections=connections,
             reuse=doc_cache.rule_results)
    assert checked == [0, 1, 2]
    checked.clear()
    edited_text = VALID_PIPELINE.replace("table: orders", "table: orders2")
    validate(parse_oml_reusing(edited_text, "p.yaml", doc_cache), registry, connections=connections,
             reuse=doc_cache.rule_results)
    assert checked == [2]


def test_random_edits_against_discovery_caches() -> None:
    discovery = _load(HERE.parent / "discovery" / "test_rules.py")
    registry = Registry()
    pair = """\
  - id: pull-{n}
    component: mysql.extractor
    mode: read
    config:
      table: orders
      columns: [id, total, status]
  - id: push-{n}
    component: supabase.writer
    mode: write
    needs: [pull-{n}]
    config: {{table: orders, write_mode: upsert, primary_key: id}}
  - id: query-{n}
    component: mysql.extractor
    mode: read
    config:
      query: "SELECT id, total FROM orders WHERE status = 'x'"
"""
    text = 'oml_version: "0.1.0"\nname: t\nsteps:\n' + "".join(pair.format(n=n) for n in range(4))
    swaps = [("columns: [id, total, status]", "columns: [id, status]"), ("table: orders\n", "table: ordres\n"),
             ("primary_key: id}", "primary_key: idd}"), ("SELECT id, total", "SELECT id, totl"),
             ("needs: [pull-", "needs: [query-"), ("FROM orders", "FROM order_items"), ("status = 'x'", "status = 'x"),
             ("- id: pull-1", "- id: pull-9")]
    rng = random.Random(1)
    editor = Editor(registry, connections=discovery.CONNECTIONS, discovery=discovery.CATALOGS)
    editor.validate(text)
    for _ in range(80):
        old, new = rng.choice(swaps)
        if rng.random() < 0.5:
            old, new = new, old
        at = text.find(old, rng.randrange(len(text)))
        if at >= 0:
            text = text[:at] + new + text[at + len(old):]
        editor.validate(text)
    assert any(d.code.startswith("discovery.") for d in editor.validate(text))
