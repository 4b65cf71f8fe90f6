"""Benchmark: validate generated pipelines of 50 and 1,000 steps, against parse-only time.

Run by hand: `.venv/bin/python bench/validate.py [--repeat N]`. Reports medians (the machine is
shared and noisy) of: parse only (`parse_oml`, the baseline), parse + validate, and their ratio,
plus time per step. Goals: 50 steps < 20 ms, 1,000 steps < 400 ms, linear growth.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from osiris_runtime.oml.connections import parse_connections
from osiris_runtime.oml.document import parse_oml
from osiris_runtime.oml.rules import validate
from osiris_runtime.registry import Registry

SPECS = Path(__file__).resolve().parents[1] / "tests" / "oml" / "specs"
CONNECTIONS = (
    "connections:\n  mysql:\n    shop: {host: h, database: d, user: u, password: '${P}'}\n"
    "    warehouse: {host: h, database: d, user: u, password: '${P}'}\n"
)


def pipeline(steps: int) -> str:
    """Extract -> transform -> write triples, with params, needs and connections."""
    lines = ['oml_version: "0.1.0"', "name: bench", "params:", '  since: {type: string, default: "2024-01-01"}', "steps:"]
    for i in range(steps):
        kind = i % 3
        if kind == 0:
            lines += [f"  - id: pull-{i}", "    component: mysql.extractor", "    mode: read", "    config:",
                      '      connection: "@mysql.shop"', f"      query: \"SELECT * FROM t{i} WHERE d >= '${{params.since}}'\"",
                      "      batch_size: 5000"]
        elif kind == 1:
            lines += [f"  - id: shape-{i}", "    component: duckdb.processor", "    mode: transform",
                      f"    needs: [pull-{i - 1}]", "    config:", f"      query: SELECT * FROM df_pull_{i - 1}"]
        else:
            lines += [f"  - id: push-{i}", "    component: mysql.writer", "    mode: write", "    config:",
                      '      connection: "@mysql.warehouse"', f"      table: out_{i}", "      write_mode: upsert",
                      "      primary_key: [id]"]
    return "\n".join(lines) + "\n"


def median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    registry = Registry([SPECS])
    connections = parse_connections(CONNECTIONS)
    registry.names()  # load the specs outside the timing
    print(f"{'steps':>6} {'parse ms':>9} {'validate ms':>12} {'ratio':>6} {'us/step':>8}  goal")
    rows = []
    for steps, goal in ((50, 20.0), (200, None), (1000, 400.0)):
        text = pipeline(steps)
        assert validate(parse_oml(text), registry, connections=connections) == [], "the generated pipeline must be valid"
        parse = median_ms(lambda: parse_oml(text), args.repeat)
        full = median_ms(lambda: validate(parse_oml(text), registry, connections=connections), args.repeat)
        rows.append((steps, full))
        verdict = "" if goal is None else (f"< {goal:.0f} ms ok" if full < goal else f"< {goal:.0f} ms MISSED")
        print(f"{steps:>6} {parse:>9.1f} {full:>12.1f} {full / parse:>6.1f} {full / steps * 1000:>8.0f}  {verdict}")
    (s1, t1), (s2, t2) = rows[0], rows[-1]
    print(f"growth 50 -> 1000 steps: x{t2 / t1:.1f} time for x{s2 / s1:.0f} steps (linear = x{s2 / s1:.0f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
