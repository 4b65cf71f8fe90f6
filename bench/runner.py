"""Runner benchmarks (run by hand, not in the test suite):

1. Overhead per trivial step: the local engine (run directory, events, metrics, threads, channels)
   running N trivial steps, against the same drivers called directly in one thread. Two shapes:
   a chain (one source, N-2 pass-throughs, one sink: one flow of N threads) and N independent
   source->sink pairs (N/2 flows). Goal: < 5 ms overhead per step.
2. Peak memory (RSS of a fresh process) streaming CSV -> CSV through `osiris run`'s engine at 1x,
   10x, 100x and 1000x the quickstart's orders.csv. Goal: flat (10x / 1x close to 1; beyond a
   few batches, bounded by batch_size x channel capacity, not by the file).

    .venv/bin/python bench/runner.py [--steps 50] [--repeats 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator, Mapping

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from osiris_runtime.compiler import CompiledPipeline  # noqa: E402
from osiris_runtime.drivers.base import StepContext  # noqa: E402
from osiris_runtime.runner.batches import Batch, Column, Schema  # noqa: E402
from osiris_runtime.runner.engine import RunOptions, run_with  # noqa: E402
from osiris_runtime.runner.local import LocalEngine  # noqa: E402

SCHEMA = Schema((Column("n", "int64"),))
DEMO_ORDERS = REPO / "examples" / "quickstart" / "data" / "orders.csv"
SCRATCH = REPO / ".osiris" / "bench"


# --- trivial drivers (found by the runner as bench.runner's `__main__.<Class>`) ----------------------


class One:
    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx

    def run(self, inputs: Mapping[str, Iterator[Batch]]) -> Iterator[Batch]:
        yield Batch(SCHEMA, [(1,)])


class Pass:
    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx

    def run(self, inputs: Mapping[str, Iterator[Batch]]) -> Iterator[Batch]:
        for stream in inputs.values():
            yield from stream


class Drop:
    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx

    def run(self, inputs: Mapping[str, Iterator[Batch]]) -> None:
        for stream in inputs.values():
            for batch in stream:
                self.ctx.add_written(len(batch))


def _step(step_id: str, cls: str, mode: str, needs: list[str]) -> dict[str, Any]:
    return {"id": step_id, "component": f"bench.{cls.lower()}", "mode": mode, "driver": f"__main__.{cls}",
            "cfg_path": f"cfg/{step_id}.json", "connection": None, "needs": needs}


def chain(n: int) -> CompiledPipeline:
    steps = [_step("s0", "One", "extract", [])]
    steps += [_step(f"s{i}", "Pass", "transform", [f"s{i - 1}"]) for i in range(1, n - 1)]
    steps.append(_step(f"s{n - 1}", "Drop", "write", [f"s{n - 2}"]))
    return _compiled(steps)


def pairs(n: int) -> CompiledPipeline:
    steps = []
    for i in range(n // 2):
        steps += [_step(f"src{i}", "One", "extract", []), _step(f"dst{i}", "Drop", "write", [f"src{i}"])]
    return _compiled(steps)


def _compiled(steps: list[dict[str, Any]]) -> CompiledPipeline:
    manifest = {"name": "bench", "plan": {"order": [s["id"] for s in steps]}, "steps": steps}
    return CompiledPipeline(manifest, {s["id"]: {} for s in steps})


def direct(compiled: CompiledPipeline) -> None:
    """The same drivers, composed by hand in one thread: generators feeding generators."""
    outputs: dict[str, list[Batch]] = {}
    classes = {"One": One, "Pass": Pass, "Drop": Drop}
    for step in compiled.manifest["steps"]:
        ctx = StepContext(step["id"], step["component"], step["mode"], {})
        driver = classes[step["driver"].rsplit(".", 1)[1]](ctx)
        result = driver.run({n: iter(outputs[n]) for n in step["needs"]})
        if result is not None:
            outputs[step["id"]] = list(result)


def time_runner(compiled: CompiledPipeline, root: Path, max_parallel: int) -> float:
    started = time.perf_counter()
    summary = run_with(LocalEngine(), compiled, RunOptions(runs_root=root, max_parallel=max_parallel))
    elapsed = time.perf_counter() - started
    assert summary.exit_code == 0, summary.error
    return elapsed


def time_direct(compiled: CompiledPipeline) -> float:
    started = time.perf_counter()
    direct(compiled)
    return time.perf_counter() - started


def overhead(n: int, repeats: int) -> dict[str, Any]:
    results = {}
    # Under .osiris/ like a real run directory (on this machine /tmp creates files ~20x slower).
    SCRATCH.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-", dir=SCRATCH) as tmp:
        for shape, compiled, parallel in (("chain", chain(n), 4), ("pairs", pairs(n), 4)):
            time_runner(compiled, Path(tmp), parallel)  # warm imports
            runner = statistics.median(time_runner(compiled, Path(tmp), parallel) for _ in range(repeats))
            baseline = statistics.median(time_direct(compiled) for _ in range(repeats))
            results[shape] = {
                "steps": n,
                "runner_ms": round(runner * 1000, 2),
                "direct_ms": round(baseline * 1000, 3),
                "overhead_ms_per_step": round((runner - baseline) * 1000 / n, 3),
                "ratio_vs_direct": round(runner / baseline, 1) if baseline else None,
            }
    return results


# --- memory -------------------------------------------------------------------------------------------


def make_csv(path: Path, factor: int) -> int:
    lines = DEMO_ORDERS.read_text().splitlines()
    header, body = lines[0], lines[1:]
    with path.open("w") as handle:
        handle.write(header + "\n")
        for _ in range(factor):
            handle.write("\n".join(body) + "\n")
    return len(body) * factor


def child_memory(csv_path: str) -> None:
    """Runs in a fresh process: stream csv_path -> CSV through the local engine, print peak RSS (KiB)."""
    steps = [
        {"id": "read", "component": "filesystem.csv_extractor", "mode": "extract",
         "driver": "osiris_runtime.drivers.filesystem.CsvExtractor", "cfg_path": "cfg/read.json", "connection": None,
         "needs": []},
        {"id": "write", "component": "filesystem.csv_writer", "mode": "write",
         "driver": "osiris_runtime.drivers.filesystem.CsvWriter", "cfg_path": "cfg/write.json", "connection": None,
         "needs": ["read"]},
    ]
    out = Path(csv_path).with_suffix(".out.csv")
    compiled = CompiledPipeline({"name": "bench-memory", "plan": {"order": ["read", "write"]}, "steps": steps},
                                {"read": {"path": csv_path, "batch_size": 10000}, "write": {"path": str(out)}})
    with tempfile.TemporaryDirectory(prefix="osiris-bench-") as tmp:
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        summary = run_with(LocalEngine(), compiled, RunOptions(runs_root=Path(tmp)))
        assert summary.exit_code == 0, summary.error
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"rows": summary.totals["rows_written"], "peak_rss_kib": peak, "before_run_kib": base}))


def memory(factors: tuple[int, ...] = (1, 10, 100, 1000)) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="osiris-bench-mem-") as tmp:
        for factor in factors:
            path = Path(tmp) / f"orders-{factor}x.csv"
            make_csv(path, factor)
            proc = subprocess.run([sys.executable, __file__, "--child-memory", str(path)], capture_output=True,
                                  text=True, check=True)
            results[f"{factor}x"] = json.loads(proc.stdout.strip().splitlines()[-1])
    base = results[f"{factors[0]}x"]["peak_rss_kib"]
    for factor in factors:
        entry = results[f"{factor}x"]
        entry["peak_rss_mib"] = round(entry["peak_rss_kib"] / 1024, 1)
        entry["ratio_vs_1x"] = round(entry["peak_rss_kib"] / base, 2)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child-memory", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_memory:
        child_memory(args.child_memory)
        return
    report = {"overhead": overhead(args.steps, args.repeats), "memory": memory()}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    for shape, r in report["overhead"].items():
        print(f"overhead [{shape}, {r['steps']} steps]: runner {r['runner_ms']} ms vs direct {r['direct_ms']} ms "
              f"-> {r['overhead_ms_per_step']} ms/step (goal < 5), {r['ratio_vs_direct']}x direct")
    for size, r in report["memory"].items():
        print(f"memory [{size} demo CSV, {r['rows']} rows]: peak RSS {r['peak_rss_mib']} MiB, {r['ratio_vs_1x']}x the 1x run")


if __name__ == "__main__":
    main()
