"""Cold start of `osiris components list` against `python -c pass` (the baseline), run by hand.

    .venv/bin/python bench/components_list.py [--runs 15]

Each sample is a fresh process. "cold cache" gives every run an empty spec cache (YAML parsing and
JSON Schema validation of every spec); "warm cache" reuses one (the usual case after the first
run). Reports medians and the ratio to the baseline measured in the same run; the goal is a
median under 300 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_MS = 300.0


def sample(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return (time.perf_counter() - start) * 1000


def median_ms(argv: list[str], runs: int, env_for_run) -> float:
    sample(argv, env_for_run(-1))  # warm the OS file cache; not counted
    return statistics.median(sample(argv, env_for_run(i)) for i in range(runs))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    osiris = [sys.executable, "-m", "osiris_runtime.cli.main", "components", "list"]
    with tempfile.TemporaryDirectory() as tmp:
        base = {k: v for k, v in os.environ.items() if k != "OSIRIS_COMPONENTS_PATH"}

        def fresh_cache(i: int) -> dict[str, str]:
            return {**base, "OSIRIS_CACHE_DIR": str(Path(tmp) / f"cold-{i}")}

        def shared_cache(_: int) -> dict[str, str]:
            return {**base, "OSIRIS_CACHE_DIR": str(Path(tmp) / "warm")}

        baseline = median_ms([sys.executable, "-c", "pass"], args.runs, shared_cache)
        cold = median_ms(osiris, args.runs, fresh_cache)
        warm = median_ms(osiris, args.runs, shared_cache)
    print(f"runs per case: {args.runs} (medians)")
    print(f"baseline  python -c pass          {baseline:7.1f} ms")
    print(f"osiris components list, cold cache {cold:7.1f} ms  ratio {cold / baseline:5.1f}x")
    print(f"osiris components list, warm cache {warm:7.1f} ms  ratio {warm / baseline:5.1f}x")
    ok = max(cold, warm) < GOAL_MS
    print(f"goal: median under {GOAL_MS:.0f} ms: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
