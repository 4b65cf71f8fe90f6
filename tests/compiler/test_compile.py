"""compile_pipeline: manifest shape, plan, fingerprints, secrets in every mode, modes, outputs on disk."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from osiris_runtime.compiler import compile_pipeline, load_compiled, plan_stages, write_compiled
from osiris_runtime.errors import CompileFailed, ExitCode
from osiris_runtime.registry import Registry

from .conftest import GOLDEN

BASIC = """\
oml_version: "0.1.0"
name: basic
steps:
  - id: pull
    component: mysql.extractor
    mode: read
    config:
      connection: "@mysql.shop"
      table: orders
  - id: push
    component: mysql.writer
    mode: write
    config:
      connection: "@mysql.dwh"
      table: orders
      write_mode: append
"""


def _ok(result):
    assert result.pipeline is not None, [d.format() for d in result.diagnostics]
    return result.pipeline


def test_manifest_has_the_documented_shape(compile_text) -> None:
    manifest = _ok(compile_text(BASIC)).manifest
    assert set(manifest) == {"compiler", "fingerprints", "name", "oml_version", "params", "profile", "plan", "steps"}
    assert manifest["compiler"] == {"name": "osiris-compiler", "version": "0.1.0"}
    assert set(manifest["fingerprints"]) == {"compiler", "oml", "params", "specs", "manifest"}
    assert set(manifest["fingerprints"]["specs"]) == {"mysql.extractor", "mysql.writer"}
    assert manifest["steps"][1] == {
        "id": "push", "component": "mysql.writer", "component_version": "1.0.0", "mode": "write",
        "driver": "osiris_runtime.drivers.mysql.MySQLWriter", "cfg_path": "cfg/push.json",
        "connection": "@mysql.dwh", "needs": ["pull"],
    }
    assert manifest["plan"] == {"order": ["pull", "push"], "stages": [["pull"], ["push"]]}


def test_cfg_fills_spec_defaults_but_not_connection_or_secret_fields(compile_text) -> None:
    cfg = _ok(compile_text(BASIC)).cfgs["pull"]
    assert cfg == {"connection": "@mysql.shop", "table": "orders", "offset": 0, "batch_size": 10000}
    assert "host" not in cfg and "port" not in cfg  # would override the connection's at run time


def test_reordering_mapping_keys_does_not_change_the_output(compile_text) -> None:
    reordered = """\
steps:
  - config:
      table: orders
      connection: "@mysql.shop"
    mode: read
    component: mysql.extractor
    id: pull
  - mode: write
    config: {write_mode: append, table: orders, connection: "@mysql.dwh"}
    id: push
    component: mysql.writer
name: basic    # comments and quoting don't matter either
oml_version: '0.1.0'
"""
    assert _ok(compile_text(reordered)).files() == _ok(compile_text(BASIC)).files()


def test_a_change_to_a_used_spec_changes_the_fingerprints(compile_text, spec_dir: Path) -> None:
    before = _ok(compile_text(BASIC, registry=Registry([spec_dir]))).manifest["fingerprints"]
    spec_file = spec_dir / "mysql.writer" / "spec.yaml"
    spec_file.write_text(spec_file.read_text().replace("title: MySQL writer", "title: MySQL table writer"))
    after = _ok(compile_text(BASIC, registry=Registry([spec_dir]))).manifest["fingerprints"]
    assert after["specs"]["mysql.writer"] != before["specs"]["mysql.writer"]
    assert after["specs"]["mysql.extractor"] == before["specs"]["mysql.extractor"]
    assert after["manifest"] != before["manifest"]
    spec_file.write_text(spec_file.read_text().replace("version: 1.0.0", "version: 1.0.1"))
    bumped = _ok(compile_text(BASIC, registry=Registry([spec_dir])))
    assert bumped.manifest["fingerprints"]["specs"]["mysql.writer"] != after["specs"]["mysql.writer"]
    assert bumped.manifest["steps"][1]["component_version"] == "1.0.1"


def test_an_unused_spec_does_not_change_the_fingerprints(compile_text, spec_dir: Path) -> None:
    before = _ok(compile_text(BASIC, registry=Registry([spec_dir]))).files()
    assert before == _ok(compile_text(BASIC)).files()  # same specs at another path: same bytes
    spec_file = spec_dir / "supabase.writer" / "spec.yaml"
    spec_file.write_text(spec_file.read_text().replace("version: 1.0.0", "version: 2.0.0"))
    assert _ok(compile_text(BASIC, registry=Registry([spec_dir]))).files() == before


def test_stages_and_order_follow_needs_with_oml_order_for_ties() -> None:
    order, stages, cycle = plan_stages(["a", "b", "c", "d", "e"], {"a": [], "b": [], "c": ["b", "a"], "d": ["a"], "e": ["c", "d"]})
    assert order == ["a", "b", "c", "d", "e"]
    assert stages == [["a", "b"], ["c", "d"], ["e"]]
    assert cycle == []
    order, stages, _ = plan_stages(["late", "early"], {"late": ["early"], "early": []})
    assert order == ["early", "late"] and stages == [["early"], ["late"]]


def test_a_step_without_needs_follows_the_previous_one_and_empty_needs_means_none(compile_text) -> None:
    text = BASIC.replace("    mode: write\n", "    mode: write\n    needs: []\n")
    manifest = _ok(compile_text(text)).manifest
    assert manifest["steps"][1]["needs"] == []
    assert manifest["plan"]["stages"] == [["pull", "push"]]


def test_a_cycle_is_a_validation_error(compile_text) -> None:
    text = BASIC.replace("    mode: read\n", "    mode: read\n    needs: [push]\n")
    result = compile_text(text)
    assert result.pipeline is None and result.exit_code == ExitCode.VALIDATION
    assert any("cycle" in d.code for d in result.errors)


def test_thousand_step_pipeline_compiles_to_a_linear_chain(compile_text) -> None:
    steps = "".join(
        f"  - id: s{i}\n    component: duckdb.processor\n    mode: transform\n    config: {{query: select {i}}}\n"
        for i in range(1000))
    pipeline = _ok(compile_text(f'oml_version: "0.1.0"\nname: long\nsteps:\n{steps}'))
    assert len(pipeline.stages) == 1000 and pipeline.step_ids[-1] == "s999"


# --- secrets ----------------------------------------------------------------------------------

SECRET = BASIC.replace("      table: orders\n  - id: push", "      table: orders\n      password: hunter2hunter2\n  - id: push")


@pytest.mark.parametrize("mode", ["warn", "strict", "off"])
def test_a_literal_in_a_secret_field_is_an_error_in_every_mode(compile_text, mode) -> None:
    result = compile_text(SECRET, mode=mode)
    assert result.pipeline is None and result.exit_code == ExitCode.VALIDATION
    secret_errors = [d for d in result.errors if d.code == "secret.inline"]
    assert secret_errors and secret_errors[0].range.start.line == 9
    assert all("hunter2" not in d.message and "hunter2" not in (d.fix or "") for d in result.diagnostics)


def test_a_secret_smuggled_through_a_param_is_caught(compile_text) -> None:
    text = BASIC.replace('name: basic\n', 'name: basic\nparams:\n  pw: {type: string}\n').replace(
        "      table: orders\n  - id: push", "      table: orders\n      password: ${params.pw}\n  - id: push")
    result = compile_text(text, params={"pw": "s3cr3t-value"}, mode="off")
    assert result.pipeline is None
    assert any(d.code == "secret.inline" for d in result.errors)


def test_an_undeclared_secret_named_key_is_an_error_even_with_mode_off(compile_text) -> None:
    text = BASIC.replace("      write_mode: append\n", "      write_mode: append\n      api_token: abcdef123456\n")
    result = compile_text(text, mode="off")
    assert result.pipeline is None
    assert [d.code for d in result.errors] == ["secret.inline"]


def test_env_placeholders_are_not_secret_values(compile_text) -> None:
    text = BASIC.replace("      write_mode: append\n", "      write_mode: append\n      api_token: ${API_TOKEN}\n")
    assert compile_text(text, mode="off").pipeline is not None


# --- modes ------------------------------------------------------------------------------------

LEGACY = BASIC.replace("    component: mysql.writer", "    uses: mysql.writer")


def test_warn_mode_reports_warnings_and_compiles(compile_text) -> None:
    result = compile_text(LEGACY, mode="warn")
    assert result.pipeline is not None and result.exit_code == ExitCode.OK
    assert any(d.code == "oml.deprecated-key" for d in result.warnings)


def test_strict_mode_turns_warnings_into_errors(compile_text) -> None:
    result = compile_text(LEGACY, mode="strict")
    assert result.pipeline is None and result.exit_code == ExitCode.VALIDATION
    assert any(d.code == "oml.deprecated-key" and d.is_error for d in result.diagnostics)


def test_off_mode_skips_config_validation_but_not_structure(compile_text) -> None:
    text = BASIC.replace("      write_mode: append\n", "      write_mode: sideways\n      colour: blue\n")
    assert compile_text(text).exit_code == ExitCode.VALIDATION
    off = compile_text(text, mode="off")
    assert off.pipeline is not None and off.pipeline.cfgs["push"]["colour"] == "blue"
    broken = compile_text(text.replace("component: mysql.extractor", "component: mysql.extractorr"), mode="off")
    assert broken.pipeline is None and broken.exit_code == ExitCode.VALIDATION


def test_params_are_validated_against_the_config_schema_once_resolved(compile_text) -> None:
    text = BASIC.replace('name: basic\n', 'name: basic\nparams:\n  size: {type: integer, default: 500}\n').replace(
        "      table: orders\n  - id: push", "      table: orders\n      batch_size: ${params.size}\n  - id: push")
    assert _ok(compile_text(text)).cfgs["pull"]["batch_size"] == 500
    result = compile_text(text, params={"size": "5"})  # below the spec's minimum of 100
    assert result.pipeline is None and any(d.code.startswith("config.") for d in result.errors)
    assert compile_text(text, params={"size": "5"}, mode="off").pipeline is not None


def test_broken_yaml_is_a_validation_error_with_a_position(compile_text) -> None:
    result = compile_text("steps: [\n  - id: x\n")
    assert result.pipeline is None and result.exit_code == ExitCode.VALIDATION
    assert result.errors[0].format().startswith("pipeline.yaml:")


# --- files ------------------------------------------------------------------------------------


def test_write_then_load_round_trips_byte_for_byte(compile_text, tmp_path: Path) -> None:
    pipeline = _ok(compile_text(BASIC))
    write_compiled(pipeline, tmp_path)
    loaded = load_compiled(tmp_path)
    assert loaded.manifest == pipeline.manifest and loaded.cfgs == pipeline.cfgs
    assert loaded.files() == pipeline.files()
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()) == [
        "cfg/pull.json", "cfg/push.json", "manifest.yaml"]


def test_recompiling_into_the_same_dir_removes_stale_cfgs(compile_text, tmp_path: Path) -> None:
    write_compiled(_ok(compile_text(BASIC)), tmp_path)
    (tmp_path / "notes.txt").write_text("kept")
    renamed = BASIC.replace("id: push", "id: store")
    write_compiled(_ok(compile_text(renamed)), tmp_path)
    assert sorted(p.name for p in (tmp_path / "cfg").iterdir()) == ["pull.json", "store.json"]
    assert (tmp_path / "notes.txt").exists()


def test_unchanged_files_are_not_rewritten(compile_text, tmp_path: Path) -> None:
    pipeline = _ok(compile_text(BASIC))
    write_compiled(pipeline, tmp_path)
    stamps = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.json")}
    write_compiled(pipeline, tmp_path)
    assert stamps == {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.json")}


def test_load_compiled_reports_missing_or_broken_outputs(compile_text, tmp_path: Path) -> None:
    with pytest.raises(CompileFailed) as missing:
        load_compiled(tmp_path)
    assert missing.value.code == "compile.no-manifest" and missing.value.exit_code == ExitCode.COMPILE
    write_compiled(_ok(compile_text(BASIC)), tmp_path)
    (tmp_path / "cfg" / "push.json").unlink()
    with pytest.raises(CompileFailed, match="push"):
        load_compiled(tmp_path)
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(manifest.read_text().replace("cfg_path: cfg/pull.json", 'cfg_path: "../../etc/passwd"'))
    with pytest.raises(CompileFailed, match="leaves"):
        load_compiled(tmp_path)


def test_golden_examples_also_compile_with_the_builtin_registry() -> None:
    """The samples must keep compiling against the real specs (not only the frozen copies)."""
    registry = Registry()
    for folder in sorted(GOLDEN.iterdir()):
        text = (folder / "pipeline.yaml").read_text()
        args = json.loads((folder / "args.json").read_text()) if (folder / "args.json").exists() else {}
        needed = {line.split(":", 1)[1].strip().strip('"') for line in text.splitlines()
                  if line.strip().startswith(("component:", "type:", "uses:"))}
        if not needed <= set(registry.names()):
            continue  # a component whose real spec is not written yet
        result = compile_pipeline(text, registry, params=args.get("params", {}), env=args.get("env", {}),
                                  profile=args.get("profile"), source=folder.name)
        assert result.pipeline is not None, [d.format() for d in result.errors]


def test_nan_in_a_config_is_a_located_compile_error(compile_text) -> None:
    text = BASIC.replace('name: basic\n', 'name: basic\nx-ratio: .nan\n')
    result = compile_text(text, mode="off")
    assert result.exit_code == ExitCode.COMPILE
    [diag] = result.errors
    assert diag.code == "compile.invalid-value" and diag.range.start.line == 2 and "/x-ratio" in diag.message


def test_secret_named_keys_nested_under_undeclared_keys_are_errors_with_mode_off(compile_text) -> None:
    text = BASIC.replace("      write_mode: append\n", "      write_mode: append\n      extra: {auth: [{api_key: abcdef123}]}\n")
    result = compile_text(text, mode="off")
    assert [d.code for d in result.errors] == ["secret.inline"]
    assert result.errors[0].data["path"] == ["steps", 1, "config", "extra", "auth", 0, "api_key"]


def test_secrets_cannot_reach_the_manifest_through_metadata_or_params(compile_text) -> None:
    text = BASIC.replace("name: basic\n", "name: basic\nmetadata: {owner: data-team, api_key: abcdef123}\n")
    result = compile_text(text, mode="off")
    assert [d.code for d in result.errors] == ["secret.inline"] and result.errors[0].range.start.line == 2
    text = BASIC.replace("name: basic\n", "name: basic\nparams:\n  db_password: {type: string}\n")
    result = compile_text(text, params={"db_password": "hunter2hunter2"}, mode="off")
    assert [d.code for d in result.errors] == ["secret.inline"]
    assert "hunter2" not in json.dumps([d.to_json() for d in result.diagnostics])


def test_crlf_line_ends_and_a_byte_order_mark_do_not_change_the_output(compile_text) -> None:
    expected = _ok(compile_text(BASIC)).files()
    assert _ok(compile_text(BASIC.replace("\n", "\r\n"))).files() == expected
    assert _ok(compile_text("\ufeff" + BASIC)).files() == expected


def test_is_intact_detects_hand_edits_and_old_formats_are_refused(compile_text, tmp_path: Path) -> None:
    write_compiled(_ok(compile_text(BASIC)), tmp_path)
    assert load_compiled(tmp_path).is_intact
    cfg = tmp_path / "cfg" / "pull.json"
    cfg.write_text(cfg.read_text().replace('"orders"', '"customers"'))
    assert not load_compiled(tmp_path).is_intact
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(manifest.read_text().replace('version: "0.1.0"\n', 'version: "7.0.0"\n', 1))
    with pytest.raises(CompileFailed) as refused:
        load_compiled(tmp_path)
    assert refused.value.code == "compile.incompatible-manifest"


@pytest.mark.parametrize("bad_id", ["../escape", "a/b", ".hidden"])
def test_step_ids_that_cannot_name_a_cfg_file_never_compile(compile_text, bad_id: str) -> None:
    result = compile_text(BASIC.replace("id: push", f'id: "{bad_id}"'), mode="off")
    assert result.pipeline is None and result.errors


def test_ids_differing_only_in_case_would_collide_on_case_insensitive_disks(compile_text) -> None:
    # The validator knows this limit of the compiler (issue 11): caught at validation, exit 2.
    result = compile_text(BASIC.replace("id: push", "id: Pull"), mode="off")
    assert result.pipeline is None and result.exit_code == ExitCode.VALIDATION
    assert [d.code for d in result.errors] == ["oml.duplicate-step-id"]


@pytest.mark.parametrize("bad_id", ["-rf", "a" * 201, "x" * 300])
def test_ids_the_compiler_refuses_never_validate(compile_text, registry, bad_id: str) -> None:
    from osiris_runtime.oml.document import parse_oml
    from osiris_runtime.oml.rules import validate

    text = BASIC.replace("id: push", f'id: "{bad_id}"')
    assert any(d.code == "oml.step-id-format" and d.is_error for d in validate(parse_oml(text), registry))
    result = compile_text(text, mode="off")
    assert result.pipeline is None and result.exit_code == ExitCode.VALIDATION


@st.composite
def _dags(draw):
    size = draw(st.integers(1, 12))
    ids = [f"s{i}" for i in draw(st.permutations(range(size)))]
    needs = {step: draw(st.lists(st.sampled_from(ids[:index]), unique=True)) if index else []
             for index, step in enumerate(ids)}
    order = draw(st.permutations(ids))  # the OML order need not be topological
    return list(order), needs


@settings(max_examples=200, deadline=None)
@given(_dags())
def test_plan_is_a_valid_deterministic_schedule(dag) -> None:
    ids, needs = dag
    order, stages, cycle = plan_stages(ids, needs)
    assert cycle == [] and sorted(order) == sorted(ids)
    position = {step: i for i, step in enumerate(order)}
    stage_of = {step: i for i, stage in enumerate(stages) for step in stage}
    for step in ids:
        assert all(position[dep] < position[step] for dep in needs[step])
        assert all(stage_of[dep] < stage_of[step] for dep in needs[step])
        if needs[step]:  # as early as possible: right after its latest dependency
            assert stage_of[step] == 1 + max(stage_of[dep] for dep in needs[step])
        else:
            assert stage_of[step] == 0
    for stage in stages:
        assert stage == sorted(stage, key=ids.index)
    assert plan_stages(list(ids), {k: list(v) for k, v in reversed(list(needs.items()))}) == (order, stages, cycle)
