"""The document model: data, ranges by path, steps with legacy spellings, tolerant parsing."""

from osiris_runtime.errors import Position, Range
from osiris_runtime.oml.document import parse_oml

PIPELINE = """\
oml_version: "0.1.0"
name: orders
steps:
  - id: pull
    component: mysql.extractor
    mode: read
    config:
      connection: "@mysql.shop"
      query: SELECT 1
  - id: push
    type: supabase.writer
    mode: write
    with:
      table: orders
  - id: last
    uses: duckdb.processor
    mode: transform
    needs: []
"""


def test_data_is_plain_python():
    doc = parse_oml(PIPELINE)
    assert doc.data["name"] == "orders"
    assert doc.data["steps"][0]["config"]["query"] == "SELECT 1"
    assert doc.syntax_diagnostics == ()


def test_range_of_a_value_and_of_its_key():
    doc = parse_oml(PIPELINE)
    assert doc.range_of(("steps", 0, "component")) == Range.at(4, 15, 4, 30)
    assert doc.range_of(("steps", 0, "component"), key=True) == Range.at(4, 4, 4, 13)


def test_range_of_a_missing_path_falls_back_to_the_nearest_ancestor_key():
    doc = parse_oml(PIPELINE)
    assert doc.range_of(("steps", 0, "config", "table")) == doc.range_of(("steps", 0, "config"), key=True)


def test_range_of_a_missing_step_field_is_the_first_line_of_the_step():
    doc = parse_oml(PIPELINE)
    rng = doc.range_of(("steps", 1, "nope"))
    assert rng.start == Position(9, 4) and rng.end.line == 9


def test_steps_map_legacy_spellings_and_default_dependencies():
    steps = parse_oml(PIPELINE).steps()
    assert [s.component for s in steps] == ["mysql.extractor", "supabase.writer", "duckdb.processor"]
    assert [s.component_key for s in steps] == ["component", "type", "uses"]
    assert steps[1].config == {"table": "orders"} and steps[1].config_key == "with"
    assert steps[0].depends_on == ()
    assert steps[1].depends_on == ("pull",) and steps[1].needs is None
    assert steps[2].depends_on == () and steps[2].needs == ()
    assert steps[0].component_mode == "extract"
    assert steps[0].connection == "@mysql.shop"


def test_broken_yaml_is_a_located_diagnostic_and_the_rest_is_still_read():
    text = "name: x\nsteps:\n  - id: a\n    component: : bad\n  - id: b\n"
    doc = parse_oml(text, source="p.yaml")
    (diag,) = [d for d in doc.syntax_diagnostics if d.code == "yaml.syntax"]
    assert diag.range.start.line == 3
    assert diag.source == "p.yaml"
    assert doc.data["name"] == "x"
    assert [s["id"] for s in doc.data["steps"]] == ["a", "b"]


def test_half_typed_key_at_end_of_file_is_kept():
    doc = parse_oml("steps:\n  - id: a\n    config:\n      conn")
    assert doc.get(("steps", 0, "config")) == "conn"


def test_path_at_finds_the_innermost_key_or_value():
    doc = parse_oml(PIPELINE)
    assert doc.path_at(Position(4, 20)) == (("steps", 0, "component"), False)
    assert doc.path_at(Position(4, 6)) == (("steps", 0, "component"), True)


def test_scalars_follow_yaml_1_2_core_and_dates_stay_strings():
    doc = parse_oml("a: 1\nb: 1.5\nc: true\nd: ~\ne: 2024-01-01\nf: '1'\ng: yes\n")
    assert doc.data == {"a": 1, "b": 1.5, "c": True, "d": None, "e": "2024-01-01", "f": "1", "g": "yes"}


def test_pure_python_parser_gives_the_same_tree_as_the_c_one():
    from osiris_runtime.oml.yaml_tree import parse_yaml

    for text in (PIPELINE, "a: &x [1, {b: 2}]\nc: *x\nd: 'q'\n", "name: x\nsteps:\n  - id: a\n    component: : bad\n"):
        fast, pure = parse_yaml(text), parse_yaml(text, use_c=False)
        assert fast.data == pure.data
        assert fast.value_ranges == pure.value_ranges and fast.key_ranges == pure.key_ranges
        assert [d.code for d in fast.diagnostics] == [d.code for d in pure.diagnostics]


def test_a_key_typed_without_colon_is_reported_on_its_line_and_the_rest_survives():
    text = "steps:\n  - id: a\n    mode: read\n    conf\n    config:\n      table: t\n  - id: b\n"
    doc = parse_oml(text)
    (diag,) = doc.syntax_diagnostics
    assert diag.range.start.line == 3
    assert doc.data == {"steps": [{"id": "a", "mode": "read", "config": {"table": "t"}}, {"id": "b"}]}


def test_an_unclosed_flow_mapping_loses_only_its_own_line():
    doc = parse_oml("steps:\n  - id: a\n    config: {query: x, \n  - id: b\n    component: x\n")
    (diag,) = doc.syntax_diagnostics
    assert diag.range.start.line == 2
    assert doc.data == {"steps": [{"id": "a"}, {"id": "b", "component": "x"}]}
