"""One rule set: the compiler runs the validator's rules on the param-resolved document.

Every problem has one code, one message and one place, whether `osiris oml validate`, `osiris
compile` or the editor finds it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from osiris_runtime.compiler import compile_pipeline
from osiris_runtime.oml.document import parse_oml
from osiris_runtime.oml.rules import validate
from osiris_runtime.registry import Registry

from .conftest import SPECS

BROKEN = """\
oml_version: "0.1.0"
name: broken
steps:
  - id: pull
    component: mysql.extractor
    mode: read
    needs: [pull, nowhere]
    config:
      connection: "@mysql.shop"
      table: orders
      password: hunter2hunter2
  - id: a
    component: duckdb.processor
    mode: transform
    needs: [b]
    config: {query: SELECT 1}
  - id: b
    component: duckdb.processor
    mode: transform
    needs: [a]
    config: {query: SELECT 2}
"""


def _triples(diagnostics) -> list[tuple[str, str, int, int]]:
    return sorted((d.code, d.message, d.range.start.line, d.range.start.column) for d in diagnostics if d.is_error)


def test_compile_and_validate_report_the_same_problems_with_the_same_messages(registry: Registry):
    validated = validate(parse_oml(BROKEN, "p.yaml"), registry)
    compiled = compile_pipeline(BROKEN, registry, source="p.yaml")
    assert compiled.pipeline is None
    assert _triples(compiled.diagnostics) == _triples(validated)
    codes = {code for code, *_ in _triples(compiled.diagnostics)}
    assert {"needs.self", "needs.unknown-step", "needs.cycle", "secret.inline"} <= codes


def test_a_param_value_is_checked_by_the_validators_config_rules(registry: Registry):
    text = ('oml_version: "0.1.0"\nname: p\nparams:\n  size: {type: integer, default: 5000}\nsteps:\n'
            "  - id: pull\n    component: mysql.extractor\n    mode: read\n    config:\n"
            '      connection: "@mysql.shop"\n      table: t\n      batch_size: ${params.size}\n')
    assert compile_pipeline(text, registry).pipeline is not None
    result = compile_pipeline(text, registry, params={"size": "5"})
    (error,) = result.errors
    assert error.code == "config.out-of-range" and error.message == "`batch_size` must be at least 100"
    assert (error.range.start.line, error.range.start.column) == (11, 18)


def test_the_secret_rule_follows_list_indexes_in_spec_pointers(tmp_path: Path):
    shutil.copytree(SPECS, tmp_path / "specs")
    spec = tmp_path / "specs" / "duckdb.processor" / "spec.yaml"
    text = spec.read_text().replace("configSchema:\n", "secrets: [/tokens/0]\nconfigSchema:\n", 1)
    text = text.replace("  properties:\n", "  properties:\n    tokens: {type: array, items: {type: string}}\n", 1)
    spec.write_text(text)
    registry = Registry([tmp_path / "specs"])
    assert registry.problems() == [], [p.format() for p in registry.problems()]
    pipeline = ('oml_version: "0.1.0"\nname: p\nparams:\n  toks: {type: array, default: []}\nsteps:\n'
                "  - id: q\n    component: duckdb.processor\n    mode: transform\n"
                "    config:\n      query: SELECT 1\n      tokens: ${params.toks}\n")
    assert compile_pipeline(pipeline, registry, mode="off").pipeline is not None
    # The secret arrives through a param, inside a list: only the resolved document shows it.
    result = compile_pipeline(pipeline, registry, mode="off", params={"toks": '["literal-token-value"]'})
    assert [(d.code, d.range.start.line) for d in result.errors] == [("secret.inline", 10)]
    assert "literal-token-value" not in repr([d.to_json() for d in result.diagnostics])


def test_an_escaped_placeholder_is_literal_text_after_resolution(registry: Registry):
    text = ('oml_version: "0.1.0"\nname: p\nsteps:\n  - id: q\n    component: duckdb.processor\n    mode: transform\n'
            "    config:\n      query: SELECT '$${params.not_a_param}' AS t\n")
    result = compile_pipeline(text, registry)
    assert result.pipeline is not None, [d.format() for d in result.diagnostics]
    assert result.pipeline.cfgs["q"]["query"] == "SELECT '${params.not_a_param}' AS t"
