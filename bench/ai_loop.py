"""Benchmark: what the generation loop adds per attempt, for a 10-step answer.

Run by hand: `.venv/bin/python bench/ai_loop.py [--repeat N]`. One attempt of the loop =
extract the OML from a model's answer (a fenced block with prose around it), parse, validate with
the registry and the connections file, build the feedback, redact. Reported as the median (p50)
and p95 over N warm attempts, and once cold (first call of a fresh process: the registry loads
and the validator's imports happen). Baseline: the seed's allowance of 350 ms p50 per validation;
goal: under 20 ms. A second row times an answer with three errors and an inline secret (the
feedback path), a third the chat turn budget (3 s incl. validation when the model takes 2 s).
"""

from __future__ import annotations

import argparse
import statistics
import time

SEED_ALLOWANCE_MS = 350.0
GOAL_MS = 20.0
CHAT_TURN_BUDGET_MS = 3000.0
MODEL_TIME_MS = 2000.0
CONNECTIONS = """connections:
  mysql:
    shop: {default: true, host: h, database: d, user: u, password: "${P}"}
  supabase:
    main: {default: true, url: "https://abcd.supabase.co", key: "${K}"}
"""


def ten_step_answer(broken: bool = False) -> str:
    """Prose + a fenced 10-step pipeline: MySQL and Supabase reads, DuckDB shaping, Supabase/MySQL writes."""
    lines = ['oml_version: "0.1.0"', "name: bench-ten", "steps:"]
    for i in range(10):
        kind = i % 5
        if kind == 0:
            lines += [f"  - id: pull-{i}", "    component: mysql.extractor", "    mode: read",
                      "    config:", '      connection: "@mysql.shop"', f"      table: orders_{i}"]
        elif kind == 1:
            lines += [f"  - id: read-{i}", "    component: supabase.extractor" if not broken else "    component: supabase.reader",
                      "    mode: read", "    config:", '      connection: "@supabase.main"', f"      table: customers_{i}",
                      "      filter: {status: eq.active}"]
        elif kind == 2:
            lines += [f"  - id: join-{i}", "    component: duckdb.processor", "    mode: transform",
                      f"    needs: [pull-{i - 2}, read-{i - 1}]", "    config:",
                      f"      query: SELECT * FROM df_pull_{i - 2} JOIN df_read_{i - 1} USING (id)"]
        elif kind == 3:
            extra = [] if not broken else ["      password: Inline-Secret-123"]
            lines += [f"  - id: push-{i}", "    component: supabase.writer", "    mode: write", f"    needs: [join-{i - 1}]",
                      "    config:", '      connection: "@supabase.main"', f"      table: out_{i}", "      write_mode: upsert",
                      *([] if broken else ["      primary_key: id"]), *extra]
        else:
            lines += [f"  - id: copy-{i}", "    component: mysql.writer", "    mode: write", f"    needs: [join-{i - 2}]",
                      "    config:", '      connection: "@mysql.shop"', f"      table: copy_{i}", "      write_mode: append"]
    return "Here is the pipeline:\n\n```yaml\n" + "\n".join(lines) + "\n```\n\nIt reads, joins and writes.\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()

    start = time.perf_counter()
    from osiris_runtime.ai.loop import feedback_text, judge_answer
    from osiris_runtime.oml.connections import parse_connections
    from osiris_runtime.registry import BUILTIN_COMPONENTS_DIR, Registry

    registry = Registry([BUILTIN_COMPONENTS_DIR])
    connections = parse_connections(CONNECTIONS)
    good, bad = ten_step_answer(), ten_step_answer(broken=True)
    first = judge_answer(1, good, registry, connections)
    cold_ms = (time.perf_counter() - start) * 1000.0
    assert first.ok, [d.format() for d in first.diagnostics]
    assert not judge_answer(1, bad, registry, connections).ok

    def timed(answer: str) -> list[float]:
        out = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            attempt = judge_answer(1, answer, registry, connections)
            feedback_text(attempt)
            out.append((time.perf_counter() - t0) * 1000.0)
        return out

    print(f"generation loop, per attempt, 10-step answer ({args.repeat} runs; baseline: the seed's {SEED_ALLOWANCE_MS:.0f} ms p50)")
    print(f"{'case':<34}{'p50 ms':>9}{'p95 ms':>9}{'p50 / 350 ms':>14}{'goal <20 ms':>13}")
    for label, answer in (("valid answer", good), ("bad component, no pk, secret", bad)):
        times = sorted(timed(answer))
        p50 = statistics.median(times)
        p95 = times[int(len(times) * 0.95) - 1]
        print(f"{label:<34}{p50:>9.2f}{p95:>9.2f}{p50 / SEED_ALLOWANCE_MS:>14.3f}{'met' if p50 < GOAL_MS else 'MISSED':>13}")
    print(f"{'cold (imports + registry + 1st)':<34}{cold_ms:>9.1f}{'':>9}{cold_ms / SEED_ALLOWANCE_MS:>14.3f}")
    ours = statistics.median(timed(bad))
    turn = MODEL_TIME_MS + ours
    print(f"chat turn with a {MODEL_TIME_MS:.0f} ms model: {turn:.0f} ms of the {CHAT_TURN_BUDGET_MS:.0f} ms budget "
          f"(ours {ours:.1f} ms = {ours / (CHAT_TURN_BUDGET_MS - MODEL_TIME_MS):.3f} of the 1 s left)")


if __name__ == "__main__":
    main()
