"""`make demo` (scripts/demo.sh) runs the quickstart with no server and says where the result is."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(not (REPO / ".venv" / "bin" / "osiris").exists(), reason="make demo uses .venv/bin/osiris")
def test_make_demo_runs_the_quickstart_and_prints_where_the_report_is():
    result = subprocess.run(["bash", str(REPO / "scripts" / "demo.sh")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "output: " + str(REPO / "examples/quickstart/out/revenue_by_country.csv") in result.stdout
    assert "run directory: " in result.stdout
    report = (REPO / "examples/quickstart/out/revenue_by_country.csv").read_text().splitlines()
    assert report[0] == "country,orders,revenue" and len(report) == 9


def test_the_quickstart_validates_cleanly():
    result = subprocess.run([sys.executable, "-m", "osiris_runtime.cli.main", "oml", "validate",
                             str(REPO / "examples/quickstart/pipeline.yaml")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
