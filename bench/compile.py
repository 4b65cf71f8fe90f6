"""Compiler benchmark: in-process compile of 20- and 1,000-step pipelines, and `osiris compile` end to end.

The baseline for the CLI is `python -c pass` measured in the same run (interpreter start-up is
the floor no CLI can beat); the CLI figure is reported as a median and as a ratio to it. The
in-process figures are compile_pipeline + serialization (`files()`) with the built-in specs and a warm registry, and
the per-step cost of 1,000 steps against 20 steps shows whether growth is linear (ratio ~1).

    .venv/bin/python bench/compile.py              # about 30 s on 2 cores
    .venv/bin/python bench/compile.py --reps 5     # quicker, noisier
    .venv/bin/python bench/compile.py --reps 5 --instructions   # also instructions executed (valgrind)
Goals (issue 4): 20 steps < 30 ms in-process; CLI < 400 ms median; linear growth. Issue 16: as ratios to
`python -c pass`: `osiris --help` <= 2x, validate and compile <= 3x with the spec cache, <= 4x cold.
Writes bench/results/compile.json. `--instructions` also counts the instructions each command
executes (valgrind's callgrind, once per command, same ratios): unlike wall and CPU time, the count
does not move with the load of a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
CONNECTIONS = "connections:\n  mysql:\n    shop: {host: localhost, database: shop, user: reader, password: \"${SHOP_PASSWORD}\"}\n"


def pipeline_text(steps: int) -> str:
    """A chain: MySQL extract, (steps - 2) DuckDB transforms, a CSV writer; one param used throughout."""
    lines = ['oml_version: "0.1.0"', f"name: bench-{steps}", "params:", "  since: {type: string, default: '2024-01-01'}",
             "steps:",
             "  - id: extract", "    component: mysql.extractor", "    mode: read", "    config:",
             '      connection: "@mysql.shop"', "      query: \"SELECT * FROM orders WHERE d >= '${params.since}'\""]
    previous = "extract"
    for index in range(1, steps - 1):
        step_id = f"transform-{index:04d}"
        lines += [f"  - id: {step_id}", "    component: duckdb.processor", "    mode: transform", f"    needs: [{previous}]",
                  "    config:", f"      query: SELECT *, {index} AS n FROM df_{previous.replace('-', '_')}"]  # the input's registered name
        previous = step_id
    lines += ["  - id: write", "    component: filesystem.csv_writer", "    mode: write", f"    needs: [{previous}]",
              "    config:", "      path: out/${params.since}.csv"]
    return "\n".join(lines) + "\n"


def time_in_process(text: str, reps: int) -> list[float]:
    from osiris_runtime.compiler import compile_pipeline
    from osiris_runtime.registry import Registry

    registry = Registry()  # the built-in specs, as `osiris compile` uses them
    compile_pipeline(text, registry)  # warm: registry loaded, imports done
    samples = []
    for _ in range(reps):
        start = time.perf_counter()
        result = compile_pipeline(text, registry)
        assert result.pipeline is not None, [d.format() for d in result.errors]
        result.pipeline.files()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def time_command(argv: list[str], reps: int, env: dict[str, str]) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU (user + system) milliseconds per run; CPU time suffers less from a busy machine."""
    wall, cpu = [], []
    for _ in range(reps):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True)
        wall.append((time.perf_counter() - start) * 1000)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append((after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.decode()[-500:]}")
    return wall, cpu


def count_instructions(argv: list[str], env: dict[str, str]) -> int:
    """Instructions (callgrind's Ir) one run of `argv` executes, interpreter start and exit included."""
    done = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv], env=env,
                          capture_output=True, text=True)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise SystemExit(f"valgrind gave no instruction count for {' '.join(argv)}: {done.stderr[-500:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=15, help="repetitions per measurement (default 15)")
    parser.add_argument("--instructions", action="store_true",
                        help="also count instructions per command with valgrind (about a minute; load-independent)")
    args = parser.parse_args()
    if args.instructions and shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind (apt-get install valgrind)")
    reps = max(3, args.reps)

    small, large = pipeline_text(20), pipeline_text(1000)
    in_20 = time_in_process(small, reps * 3)
    in_1000 = time_in_process(large, max(3, reps // 3))

    # As on a user's machine: bytecode caches are written (the warm-up run fills them).
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSIRIS_") and k != "PYTHONDONTWRITEBYTECODE"}
    osiris = str(Path(sys.executable).with_name("osiris"))
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "bench-20.yaml"
        source.write_text(small)
        (Path(tmp) / "osiris_connections.yaml").write_text(CONNECTIONS)
        cache_env = {**env, "OSIRIS_CACHE_DIR": str(Path(tmp) / "cache")}
        cli = [osiris, "compile", str(source), "--out", str(Path(tmp) / "out")]
        validate = [osiris, "oml", "validate", str(source)]
        baseline = [sys.executable, "-c", "pass"]
        # Issue 16: each command with the spec cache, and cold (an empty cache directory per run:
        # only the built-in specs' shipped cache, written by `make install`, is there).
        commands = {"compile": (cli, cache_env), "validate": (validate, cache_env), "help": ([osiris, "--help"], cache_env),
                    "compile_cold": (cli, None), "validate_cold": (validate, None)}
        for argv, command_env in commands.values():
            time_command(argv, 2, command_env or cache_env)  # warm the page cache and .pyc files
        base_samples, base_cpu = [], []
        samples: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in commands}
        for run in range(reps):  # interleaved, so all see the same machine load
            wall, cpu = time_command(baseline, 1, env)
            base_samples += wall
            base_cpu += cpu
            for name, (argv, command_env) in commands.items():
                if command_env is None:
                    command_env = {**env, "OSIRIS_CACHE_DIR": str(Path(tmp) / f"cold-{name}-{run}")}
                wall, cpu = time_command(argv, 1, command_env)
                samples[name][0].extend(wall)
                samples[name][1].extend(cpu)
        instructions: dict[str, int] = {}
        if args.instructions:
            instructions["baseline"] = count_instructions(baseline, env)
            for name, (argv, command_env) in commands.items():
                command_env = command_env or {**env, "OSIRIS_CACHE_DIR": str(Path(tmp) / f"cold-{name}-instructions")}
                instructions[name] = count_instructions(argv, command_env)
        cli_samples, cli_cpu = samples["compile"]

    med = statistics.median
    per_step_20, per_step_1000 = med(in_20) / 20, med(in_1000) / 1000
    report = {
        "reps": reps,
        "in_process_ms": {"20_steps_median": round(med(in_20), 2), "1000_steps_median": round(med(in_1000), 1)},
        "per_step_ms": {"20": round(per_step_20, 3), "1000": round(per_step_1000, 3),
                        "ratio_1000_vs_20": round(per_step_1000 / per_step_20, 2)},
        "cli_ms": {"baseline_python_c_pass_median": round(med(base_samples), 1),
                   "osiris_compile_20_steps_median": round(med(cli_samples), 1),
                   "ratio_vs_baseline": round(med(cli_samples) / med(base_samples), 2),
                   "overhead_over_baseline": round(med(cli_samples) - med(base_samples), 1),
                   "baseline_cpu_median": round(med(base_cpu), 1),
                   "osiris_compile_cpu_median": round(med(cli_cpu), 1),
                   "cpu_ratio_vs_baseline": round(med(cli_cpu) / max(med(base_cpu), 0.1), 2)},
        "start_ratios_vs_python_c_pass": {
            name: {"wall_median_ms": round(med(w), 1), "wall_ratio": round(med(w) / med(base_samples), 2),
                   "cpu_median_ms": round(med(c), 1), "cpu_ratio": round(med(c) / max(med(base_cpu), 0.1), 2),
                   "goal": {"help": 2, "compile": 3, "validate": 3, "compile_cold": 4, "validate_cold": 4}[name]}
            for name, (w, c) in samples.items()},
        "load_average_1min": round(os.getloadavg()[0], 2),
        **({"instructions_vs_python_c_pass": {
            name: {"instructions_millions": round(count / 1e6, 1), "ratio": round(count / instructions["baseline"], 2)}
            for name, count in instructions.items()}} if instructions else {}),
        "goals": {"in_process_20_steps_ms": 30, "cli_median_ms": 400},
    }
    print(f"in-process, 20 steps:    {report['in_process_ms']['20_steps_median']:8.2f} ms median (goal < 30 ms)")
    print(f"in-process, 1000 steps:  {report['in_process_ms']['1000_steps_median']:8.1f} ms median")
    print(f"per step, 1000 vs 20:    {report['per_step_ms']['ratio_1000_vs_20']:8.2f} x (1.0 = linear)")
    print(f"python -c pass:          {report['cli_ms']['baseline_python_c_pass_median']:8.1f} ms median (baseline)")
    print(f"osiris compile 20 steps: {report['cli_ms']['osiris_compile_20_steps_median']:8.1f} ms median "
          f"= {report['cli_ms']['ratio_vs_baseline']:.2f} x baseline (goal < 400 ms)")
    print(f"CPU time (user+sys):     {report['cli_ms']['osiris_compile_cpu_median']:8.1f} ms vs "
          f"{report['cli_ms']['baseline_cpu_median']:.1f} ms baseline = {report['cli_ms']['cpu_ratio_vs_baseline']:.2f} x "
          f"(load average {report['load_average_1min']})")
    for name, row in report["start_ratios_vs_python_c_pass"].items():
        print(f"{name:14} {row['wall_median_ms']:7.1f} ms = {row['wall_ratio']:.2f} x python -c pass (CPU {row['cpu_ratio']:.2f} x; "
              f"goal <= {row['goal']} x: {'met' if row['wall_ratio'] <= row['goal'] else 'MISSED'})")
    for name, row in report.get("instructions_vs_python_c_pass", {}).items():
        print(f"{name:14} {row['instructions_millions']:7.1f} M instructions = {row['ratio']:.2f} x python -c pass")
    out = BENCH / "results" / "compile.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    print(f"wrote {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
