"""A flow of hundreds of DuckDB steps keeps memory bounded (issue 11, item 6).

Every step of a flow runs at once, each waiting on its inputs. A DuckDB step used to open its
database before reading them, so a 200-step chain held 200 DuckDB instances (about 0.9 GB);
it now opens it only once its inputs are spooled."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

STEPS = 150
# Measured: about 0.7 GB at 150 steps before the fix, about 0.1 GB after.
PEAK_RSS_LIMIT_MB = 300


def chain(n: int) -> str:
    lines = ['oml_version: "0.1.0"', "name: long-chain", "steps:",
             "  - {id: s0, component: duckdb.processor, mode: transform,"
             " config: {query: 'select range as id from range(1000)'}}"]
    lines += [f"  - {{id: s{i}, component: duckdb.processor, mode: transform, needs: [s{i - 1}],"
              f" config: {{query: 'select id from s{i - 1}'}}}}" for i in range(1, n)]
    return "\n".join(lines) + "\n"


def test_a_chain_of_150_duckdb_steps_runs_in_bounded_memory(tmp_path: Path):
    (tmp_path / "chain.yaml").write_text(chain(STEPS))
    # Peak RSS of the run, taken in a child interpreter so this test process's own memory is not counted.
    probe = (
        "import resource, subprocess, sys, json\n"
        "r = subprocess.run([sys.argv[1], 'run', 'chain.yaml', '--json'], capture_output=True, text=True)\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024\n"
        "print(json.dumps({'rc': r.returncode, 'peak_mb': peak, 'out': r.stdout, 'err': r.stderr[-2000:]}))\n"
    )
    osiris = str(Path(sys.executable).parent / "osiris")
    done = subprocess.run([sys.executable, "-c", probe, osiris], cwd=tmp_path, capture_output=True, text=True,
                          timeout=180)
    report = json.loads(done.stdout)
    assert report["rc"] == 0, report
    summary = json.loads(report["out"].strip().splitlines()[-1])
    assert summary["totals"]["steps_ok"] == STEPS and summary["steps"][-1]["rows_out"] == 1000
    assert report["peak_mb"] < PEAK_RSS_LIMIT_MB, f"peak RSS {report['peak_mb']} MB for {STEPS} DuckDB steps"
