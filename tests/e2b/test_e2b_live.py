"""Opt-in: the quickstart in a real e2b sandbox. Runs only when E2B_API_KEY is set (and E2B_DEBUG is
not), e.g. `E2B_API_KEY=e2b_... .venv/bin/python -m pytest tests/e2b/test_e2b_live.py`; template and
lifetime from OSIRIS_E2B_TEMPLATE / OSIRIS_E2B_TIMEOUT as for a user."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from e2b_helpers import REPO, osiris_run, summary_of

pytestmark = pytest.mark.skipif(not os.environ.get("E2B_API_KEY") or os.environ.get("E2B_DEBUG", "").lower() == "true",
                                reason="live e2b test: set E2B_API_KEY to run it")


def test_the_quickstart_in_a_real_sandbox_matches_the_local_run(tmp_path):
    outputs = {}
    for engine in ("local", "e2b"):
        shutil.copytree(REPO / "examples" / "quickstart", tmp_path / engine, ignore=shutil.ignore_patterns("out", ".osiris"))
        result = osiris_run(str(tmp_path / engine / "pipeline.yaml"), "--engine", engine, "--json", cwd=tmp_path,
                            timeout=900)
        assert result.returncode == 0, result.stderr
        outputs[engine] = (tmp_path / engine / "out" / "revenue_by_country.csv").read_bytes()
        if engine == "e2b":
            status = json.loads((Path(summary_of(result)["run_dir"]) / "status.json").read_text())
            assert status["sandbox"]["sandbox_id"] and status["sandbox"]["sandbox_id"] != "debug_sandbox_id"
    assert outputs["e2b"] == outputs["local"]
