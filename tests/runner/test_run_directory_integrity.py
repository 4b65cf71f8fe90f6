"""A run directory holds exactly what the compiler wrote, and a compiled directory runs only as
compiled: no redaction of compiled files, a fingerprint check on every run of one (exit 5)."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import osiris, pipeline, step
from hypothesis import given, settings
from hypothesis import strategies as st

from osiris_runtime.compiler import CompiledPipeline, load_compiled_to_run, manifest_fingerprint
from osiris_runtime.runner.artifacts import write_compiled_files

KEYED_QUERY = """oml_version: "0.1.0"
name: keyed
steps:
  - id: rows
    component: filesystem.csv_extractor
    mode: read
    config:
      path: in.csv
  - id: pick
    component: duckdb.processor
    mode: transform
    needs: [rows]
    config:
      query: "SELECT key, token FROM rows WHERE key = 'b'"
  - id: out
    component: filesystem.csv_writer
    mode: write
    needs: [pick]
    config:
      path: out.csv
"""


def _setup(tmp_path: Path) -> Path:
    (tmp_path / "in.csv").write_text("key,token\na,1\nb,2\n")
    path = tmp_path / "pipeline.yaml"
    path.write_text(KEYED_QUERY)
    return path


def test_the_run_directory_holds_the_compiled_files_byte_for_byte_and_reruns_the_same(tmp_path: Path):
    oml = _setup(tmp_path)
    compiled = tmp_path / "compiled"
    assert osiris("compile", str(oml), "--out", str(compiled), cwd=tmp_path).returncode == 0
    first = osiris("run", str(oml), "--out", str(tmp_path / "run1"), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    for relative in ("manifest.yaml", "cfg/pick.json"):
        assert (tmp_path / "run1" / relative).read_bytes() == (compiled / relative).read_bytes()
    assert "WHERE key = 'b'" in json.loads((tmp_path / "run1" / "cfg" / "pick.json").read_text())["query"]
    (tmp_path / "out.csv").unlink()
    again = osiris("run", str(tmp_path / "run1"), "--out", str(tmp_path / "run2"), "--work-dir", str(tmp_path), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "out.csv").read_text().splitlines() == ["key,token", "b,2"]


def test_a_compiled_directory_edited_after_compile_does_not_run(tmp_path: Path):
    oml = _setup(tmp_path)
    compiled = tmp_path / "compiled"
    assert osiris("compile", str(oml), "--out", str(compiled), cwd=tmp_path).returncode == 0
    cfg = compiled / "cfg" / "pick.json"
    cfg.write_text(cfg.read_text().replace("'b'", "'***'"))
    for target in (compiled, compiled / "manifest.yaml"):
        result = osiris("run", str(target), "--work-dir", str(tmp_path), cwd=tmp_path)
        assert result.returncode == 5, result.stderr
        assert "run.manifest-mismatch" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out.csv").exists()


_config_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60)


@settings(max_examples=60, deadline=None)
@given(query=_config_text, token=_config_text)
def test_any_compiled_text_reaches_the_run_directory_unchanged_and_intact(tmp_path_factory, query, token):
    """Property: whatever a cfg holds (secret-looking or not), the run directory's copy is the
    compiler's bytes, and it loads back as an intact pipeline."""
    compiled = pipeline(step("a", "Source", query=f"SELECT 1 WHERE key = '{query}'", note=f"password={token}"))
    manifest = {**compiled.manifest, "fingerprints": {}}
    manifest["fingerprints"]["manifest"] = manifest_fingerprint(manifest, compiled.cfgs)
    compiled = CompiledPipeline(manifest, compiled.cfgs)
    run_dir = tmp_path_factory.mktemp("run")
    write_compiled_files(run_dir, compiled.files())
    assert {p: (run_dir / p).read_bytes() for p in compiled.files()} == compiled.files()
    assert load_compiled_to_run(run_dir).cfgs == compiled.cfgs


def test_a_run_never_writes_through_a_link_in_its_out_directory(tmp_path: Path):
    oml = _setup(tmp_path)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "run"
    out.mkdir()
    (out / "events.jsonl").symlink_to(victim)
    result = osiris("run", str(oml), "--out", str(out), "--json", cwd=tmp_path)
    assert result.returncode == 5, result.stderr
    assert json.loads(result.stdout)["error"]["code"] == "run.out-dir-links"
    assert victim.read_text() == "precious" and not (tmp_path / "out.csv").exists()


def test_a_run_directory_can_be_reused_but_foreign_cfgs_are_refused(tmp_path: Path):
    oml = _setup(tmp_path)
    out = tmp_path / "run"
    for _ in range(2):
        assert osiris("run", str(oml), "--out", str(out), cwd=tmp_path).returncode == 0
    (out / "cfg" / "mine.json").write_text("{}")
    result = osiris("run", str(oml), "--out", str(out), cwd=tmp_path)
    assert result.returncode == 5 and "run.out-dir-not-empty" in result.stderr
    assert (out / "cfg" / "mine.json").read_text() == "{}"


def test_only_the_driver_the_registry_names_is_imported(tmp_path: Path, monkeypatch):
    import sys

    from osiris_runtime.registry import BUILTIN_COMPONENTS_DIR, Registry
    from osiris_runtime.runner.engine import RunOptions, run_with
    from osiris_runtime.runner.local import LocalEngine

    marker = tmp_path / "imported"
    (tmp_path / "i11_evil_driver.py").write_text(f"open({str(marker)!r}, 'w').close()\nclass Driver: pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    compiled = pipeline(step("q", "i11_evil_driver.Driver", component="duckdb.processor", mode="transform",
                             query="SELECT 1"))
    summary = run_with(LocalEngine(Registry([BUILTIN_COMPONENTS_DIR])), compiled,
                       RunOptions(run_dir=tmp_path / "run", work_dir=tmp_path))
    assert summary.exit_code == 4 and summary.error.code == "run.driver-not-allowed"
    assert not marker.exists() and "i11_evil_driver" not in sys.modules
    assert json.loads((tmp_path / "run" / "status.json").read_text())["error"]["code"] == "run.driver-not-allowed"
