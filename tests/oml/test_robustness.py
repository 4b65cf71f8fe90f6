"""The validator never raises, and hostile YAML ends quickly with a clear diagnostic."""

from __future__ import annotations

import json
import time

import pytest

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from osiris_runtime.oml.document import parse_oml
from osiris_runtime.oml.rules import validate
from osiris_runtime.oml.yaml_tree import MAX_ALIAS_EXPANSION, MAX_CHARS

SETTINGS = settings(max_examples=int(__import__("os").environ.get("OML_FUZZ_EXAMPLES", "150")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def assert_no_internal_errors(diagnostics):
    assert all(d.code != "oml.internal-error" for d in diagnostics), [d.message for d in diagnostics]
    assert all(d.message and d.fix for d in diagnostics), [d.code for d in diagnostics if not d.fix]


def billion_laughs(levels: int = 10) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        refs = ",".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return "\n".join(lines) + f"\nsteps: *a{levels - 1}\n"


def test_billion_laughs_is_cut_off_quickly(check):
    start = time.perf_counter()
    diagnostics = check(billion_laughs())
    assert time.perf_counter() - start < 5
    limit = [d for d in diagnostics if d.code == "yaml.alias-limit"]
    assert limit and str(MAX_ALIAS_EXPANSION) in limit[0].message.replace(",", "")


def test_ten_thousand_deep_nesting_is_a_diagnostic(check):
    flow = "a: " + "[" * 10_000 + "]" * 10_000
    block = "a:\n" + "- " * 10_000 + "x\n"  # 10,000 nested block sequences on one line
    mixed = "a: " + "{k: [" * 5_000 + "]}" * 5_000
    for text in (flow, block, mixed):
        start = time.perf_counter()
        diagnostics = check(text)
        assert time.perf_counter() - start < 5
        assert "yaml.too-deep" in [d.code for d in diagnostics]


def test_a_20_mb_file_is_refused_with_a_clear_diagnostic(check):
    text = "name: x\n" + "# padding\n" * 2_000_000
    assert len(text) > MAX_CHARS
    start = time.perf_counter()
    diagnostics = check(text)
    assert time.perf_counter() - start < 2
    assert [d.code for d in diagnostics] == ["yaml.too-large"]


def test_unknown_alias_and_multiple_documents(check):
    codes = [d.code for d in check("a: *nope\n---\nb: 1\n")]
    assert "yaml.unknown-alias" in codes and "yaml.multiple-documents" in codes


yaml_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20),
    st.sampled_from(["mysql.extractor", "mysql.writer", "read", "write", "@mysql.shop", "${params.x}", "a", "b"]),
)
yaml_values = st.recursive(
    yaml_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["id", "component", "mode", "config", "needs", "steps", "params", "profiles", "name",
                         "oml_version", "connection", "table", "query", "password", "type", "with", "x-a", "default"]),
        children, max_size=5),
    max_leaves=25,
)


@SETTINGS
@given(value=yaml_values)
def test_arbitrary_yaml_data_gives_diagnostics_not_exceptions(check, value):
    import json

    text = json.dumps(value)  # JSON is YAML; hypothesis explores the shapes
    assert_no_internal_errors(check(text))
    assert_no_internal_errors(check({"oml_version": "0.1.0", "name": "p", "steps": value} and json.dumps(
        {"oml_version": "0.1.0", "name": "p", "steps": value})))


@SETTINGS
@given(text=st.text(max_size=300))
def test_arbitrary_text_gives_diagnostics_not_exceptions(check, text):
    assert_no_internal_errors(check(text))


@SETTINGS
@given(data=st.binary(max_size=300))
def test_arbitrary_bytes_give_diagnostics_not_exceptions(check, data):
    doc = parse_oml(data.decode("utf-8", errors="replace"))
    assert isinstance(doc.syntax_diagnostics, tuple)
    assert_no_internal_errors(check(data.decode("latin-1")))


@SETTINGS
@given(data=st.data())
def test_mutated_valid_pipelines_give_diagnostics_not_exceptions(check, valid_pipeline, data):
    text = valid_pipeline
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(text)))
        action = data.draw(st.sampled_from(["delete", "insert", "replace", "cut-line", "dup-line"]))
        if action == "delete":
            text = text[:position] + text[position + data.draw(st.integers(1, 10)):]
        elif action == "insert":
            text = text[:position] + data.draw(st.sampled_from([":", "-", " ", "\n", "[", "{", "&a ", "*a", '"', "  ", "\t", "#", "|"])) + text[position:]
        elif action == "replace":
            text = text[:position] + data.draw(st.text(max_size=3)) + text[position + 1:]
        else:
            lines = text.split("\n")
            index = data.draw(st.integers(0, len(lines) - 1))
            lines[index:index + 1] = [] if action == "cut-line" else [lines[index]] * 2
            text = "\n".join(lines)
    diagnostics = check(text)
    assert_no_internal_errors(diagnostics)
    doc = parse_oml(text)
    for step in doc.steps():  # the model of a broken document is still usable
        assert step.range is not None


def test_validate_is_pure_for_the_same_document(registry, valid_pipeline, connections):
    doc = parse_oml(valid_pipeline + "  - id: x\n    component: nope\n    mode: read\n")
    assert validate(doc, registry, connections=connections) == validate(doc, registry, connections=connections)


def test_problems_are_capped_per_document(check):
    from osiris_runtime.oml.rules import MAX_DIAGNOSTICS

    text = 'oml_version: "0.1.0"\nname: p\nsteps:\n' + "- {id: a, component: x, mode: read}\n" * 2_000
    diagnostics = check(text)
    assert len(diagnostics) == MAX_DIAGNOSTICS + 1
    assert diagnostics[-1].code == "oml.too-many-problems"


def _warnings_then_an_error(n_warnings: int) -> str:
    steps = "".join(f"- {{id: s{i}, uses: duckdb.processor, mode: transform, needs: [], config: {{query: 'select 1'}}}}\n"
                    for i in range(n_warnings))
    return 'oml_version: "0.1.0"\nname: p\nsteps:\n' + steps + "- {id: zz, component: nope, mode: read}\n"


def test_an_error_after_the_cap_of_warnings_is_still_shown(check):
    from osiris_runtime.oml.rules import MAX_DIAGNOSTICS

    diagnostics = check(_warnings_then_an_error(600))
    assert len(diagnostics) == MAX_DIAGNOSTICS + 1
    assert any(d.code == "oml.unknown-component" and d.is_error for d in diagnostics)
    summary = diagnostics[-1]
    assert summary.code == "oml.too-many-problems" and summary.message == "101 more problems not shown"
    assert summary.data == {"not_shown": 101, "errors_not_shown": 0, "warnings_not_shown": 101}


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n_warnings=st.integers(0, 600), n_errors=st.integers(0, 600))
def test_the_cap_never_changes_the_verdict(check, n_warnings, n_errors):
    """Property: whatever the mix, an invalid document shows an error and the counts add up."""
    from osiris_runtime.oml.rules import MAX_DIAGNOSTICS

    text = _warnings_then_an_error(n_warnings) + "- {id: e, component: nope, mode: read}\n" * n_errors
    diagnostics = check(text)
    assert any(d.is_error for d in diagnostics)
    shown = [d for d in diagnostics if d.code != "oml.too-many-problems"]
    assert len(shown) <= MAX_DIAGNOSTICS
    hidden = diagnostics[-1].data.get("not_shown", 0) if diagnostics[-1].code == "oml.too-many-problems" else 0
    assert len(shown) + hidden >= n_warnings + n_errors + 1


_password = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="@/'\"\\{}[],#&*!|>%`"),
                    min_size=8, max_size=24)


@SETTINGS
@given(password=_password, shape=st.sampled_from(["mysql://u:{}@h:3306/db", "host=h password={} dbname=d", "u:{}@h"]))
def test_no_diagnostic_echoes_a_secret_pasted_into_connection(check, password, shape):
    """Property: a value that is not a reference is never repeated (it may be a DSN with its password)."""
    password = "Zq9" + password  # never a word of the messages themselves
    ref = shape.format(password)
    text = ('oml_version: "0.1.0"\nname: p\nsteps:\n  - id: a\n    component: mysql.extractor\n    mode: read\n'
            f"    config:\n      connection: '{ref}'\n      table: t\n")
    for d in check(text):
        assert password not in d.format() + repr(d.to_json())


_names = st.one_of(st.text(max_size=20), st.from_regex(r"[A-Za-z_][A-Za-z0-9_$]{0,70}(\n)?", fullmatch=True))


@SETTINGS
@given(table=_names, column=_names)
def test_validation_refuses_exactly_the_names_the_drivers_refuse(check, table, column):
    """Property: a SQL name that validates is one the MySQL driver accepts, and the other way round."""
    from osiris_runtime.drivers.step_options import WriteOptions
    from osiris_runtime.errors import ValidationFailed

    config = {"table": table, "primary_key": [column]}
    try:
        WriteOptions.from_config(config, dialect="mysql")
        driver_ok = True
    except ValidationFailed:
        driver_ok = False
    text = ('oml_version: "0.1.0"\nname: p\nsteps:\n  - id: w\n    component: mysql.writer\n    mode: write\n'
            f"    config:\n      connection: \"@mysql.warehouse\"\n      table: {json.dumps(table, ensure_ascii=False)}\n"
            f"      primary_key: [{json.dumps(column, ensure_ascii=False)}]\n")
    codes = {d.code for d in check(text)}
    if "${" in table + column or "." in table or not table or not column or "yaml.syntax" in codes:
        return  # placeholders are checked once compiled; qualified and empty names have their own rules
    assert ("config.invalid-identifier" not in codes) == driver_ok, (table, column, codes)


@SETTINGS
@given(step_id=st.one_of(st.text(min_size=1, max_size=300), st.from_regex(r"[a-z0-9-]{190,260}", fullmatch=True)))
def test_an_id_that_validates_names_a_cfg_file(check, tmp_path_factory, step_id):
    """Property: every step id without an id error can be written as cfg/<id>.json (and its
    temporary `.<id>.json.tmp`) inside the output folder, and never starts like an option."""
    text = ('oml_version: "0.1.0"\nname: p\nsteps:\n'
            f"  - id: {json.dumps(step_id, ensure_ascii=False)}\n    component: duckdb.processor\n    mode: transform\n"
            "    config: {query: SELECT 1}\n")
    diagnostics = check(text)
    if any(d.is_error and d.code in ("oml.step-id-format", "yaml.syntax", "oml.invalid-type") for d in diagnostics):
        return
    cfg = tmp_path_factory.mktemp("out") / "cfg"
    cfg.mkdir()
    for name in (f"{step_id}.json", f".{step_id}.json.tmp"):
        target = cfg / name
        assert target.resolve().parent == cfg.resolve() and not step_id.startswith("-")
        target.write_bytes(b"{}")


@pytest.mark.parametrize("shape", ["[" * 100_000 + "]" * 100_000, "{a: " * 50_000 + "1" + "}" * 50_000, "[" * 200_000])
def test_deep_flow_nesting_of_200_kb_is_bounded_before_libyaml(check, shape):
    start = time.perf_counter()
    diagnostics = check('oml_version: "0.1.0"\nname: p\nsteps: ' + shape + "\n")
    assert time.perf_counter() - start < 3  # was 38 s and more: libyaml is quadratic in flow depth
    assert "yaml.too-deep" in [d.code for d in diagnostics]


def _nested(depth: int, leaf: object) -> object:
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


@SETTINGS
@given(depth=st.integers(0, 300), leaf=st.one_of(st.integers(), st.text("ab[]{}'\" #,\\", max_size=8)),
       key_first=st.booleans())
def test_the_nesting_bound_cuts_only_what_is_too_deep_and_keeps_positions(depth, leaf, key_first):
    """Property: a flow value nested up to the limit is left alone; deeper ones are blanked
    without moving a single character, and parse quickly."""
    from osiris_runtime.oml.yaml_tree import MAX_DEPTH, bound_flow_nesting, parse_yaml

    text = ("k: " if key_first else "") + json.dumps(_nested(depth, leaf)) + "\n"
    bounded, problems = bound_flow_nesting(text)
    assert len(bounded) == len(text) and bounded.count("\n") == text.count("\n")
    if depth <= MAX_DEPTH:
        assert bounded == text and problems == []
    else:
        assert [d.code for d in problems] == ["yaml.too-deep"]
    assert parse_yaml(text).data is not None or depth > MAX_DEPTH
