"""Every failure of `osiris run` / `compile` / `oml validate` is a documented exit code with a
message (never 1 and an "internal error"), and what validation accepts, compile and run accept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import osiris

QUICKSTART = Path(__file__).parents[2] / "examples" / "quickstart"


def _quickstart_with_id(tmp_path: Path, step_id: str) -> Path:
    text = (QUICKSTART / "pipeline.yaml").read_text().replace("- id: write-report", f"- id: {json.dumps(step_id)}")
    text = text.replace("path: data/", f"path: {QUICKSTART}/data/").replace("path: out/", f"path: {tmp_path}/out/")
    path = tmp_path / "pipeline.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("step_id", ["w" * 300, "-rf"])
def test_an_id_the_compiler_cannot_use_fails_validation_compile_and_run_alike(tmp_path: Path, step_id: str):
    pipeline = _quickstart_with_id(tmp_path, step_id)
    for args in (("oml", "validate", str(pipeline)), ("compile", str(pipeline), "--out", str(tmp_path / "c")),
                 ("run", str(pipeline), "--out", str(tmp_path / "r"))):
        result = osiris(*args, cwd=tmp_path)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert "oml.step-id-format" in result.stdout + result.stderr and "internal error" not in result.stderr


@pytest.mark.parametrize("out", ["/dev/null", "a-file"])
def test_an_unusable_out_is_exit_5_with_a_json_summary(tmp_path: Path, out: str):
    (tmp_path / "a-file").write_text("x")
    result = osiris("run", str(QUICKSTART / "pipeline.yaml"), "--out", out, "--json", cwd=tmp_path)
    assert result.returncode == 5, result.stderr
    summary = json.loads(result.stdout)
    assert summary["status"] == "error" and summary["exit_code"] == 5
    assert summary["error"]["code"] == "run.out-dir-unusable" and "internal error" not in result.stderr
    assert (tmp_path / "a-file").read_text() == "x"
