"""Benchmark (opt-in, needs a real endpoint): first-try validity of generated OML, with and without the context.

Run by hand with an OpenAI-compatible endpoint:

    OSIRIS_LLM_BASE_URL=https://host/v1 OSIRIS_LLM_MODEL=<model> OSIRIS_LLM_API_KEY=<key> \\
        .venv/bin/python bench/generate.py [--runs 5] [--attempts 3]

The seed's three requests (Supabase -> Supabase append, Supabase -> Supabase merge, MySQL ->
Supabase), each N times in two arms: the packaged system prompt with the registry context, and a
baseline prompt without it. Reported per arm: first-try validity (the seed's metric), validity
after the loop's retries, mean attempts, and time split into the model's and ours. Baseline =
the no-context arm measured in the same run. Not part of the tests; nothing is written.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

REQUESTS = {
    "supabase-append": "Copy every row of the `orders` table of our main Supabase project into the `orders` table "
                       "of the analytics Supabase project, appending rows.",
    "supabase-merge": "Merge the `customers` table of the main Supabase project into `customers` in analytics: "
                      "insert new customers and update existing ones by `id`.",
    "mysql-to-supabase": "Move the `orders` table from our MySQL shop database into the `orders` table in Supabase.",
}
CONNECTIONS = """connections:
  mysql:
    shop: {default: true, host: db.internal, database: shop, user: reader, password: "${MYSQL_PASSWORD}"}
  supabase:
    main: {default: true, url: "https://main.supabase.co", key: "${SUPABASE_KEY}"}
    analytics: {url: "https://analytics.supabase.co", key: "${ANALYTICS_KEY}"}
"""
NO_CONTEXT_PROMPT = ("You write data pipelines in OML (Osiris Markup Language) 0.1.0, a YAML format. Answer with the "
                     "complete pipeline in one ```yaml fenced block.\n")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5, help="repetitions of each request per arm")
    parser.add_argument("--attempts", type=int, default=3)
    args = parser.parse_args()

    from osiris_runtime.ai.context import build_context
    from osiris_runtime.ai.llm import ChatModel, Conversation, LlmSettings
    from osiris_runtime.ai.loop import GenerationLoop
    from osiris_runtime.ai.prompt import render_system_prompt
    from osiris_runtime.errors import OsirisError
    from osiris_runtime.oml.connections import parse_connections
    from osiris_runtime.registry import Registry, default_search_paths

    try:
        settings = LlmSettings.from_env(os.environ)
    except OsirisError as exc:
        print(f"{exc.message}\n  {exc.fix}", file=sys.stderr)
        return 5
    registry = Registry(default_search_paths(Path.cwd()))
    connections = parse_connections(CONNECTIONS)
    context = build_context(registry, connections)
    arms = {"with context": render_system_prompt(context.text), "without context": NO_CONTEXT_PROMPT}
    model = ChatModel(settings, stream=False)
    print(f"model {settings.model}: {len(REQUESTS)} requests x {args.runs} runs per arm, up to {args.attempts} attempts")
    rows = {}
    for arm, prompt in arms.items():
        first = after = 0
        attempts: list[int] = []
        model_ms: list[float] = []
        ours_ms: list[float] = []
        for name, request in REQUESTS.items():
            for _ in range(args.runs):
                loop = GenerationLoop(registry, connections, args.attempts, redactor=model.redactor)
                try:
                    result = loop.run(request, Conversation(model.complete, prompt).generator())
                except OsirisError as exc:
                    print(f"{arm} / {name}: {exc.message}", file=sys.stderr)
                    return 5
                first += result.attempts[0].ok
                after += result.ok
                attempts.append(len(result.attempts))
                model_ms.append(result.model_ms / len(result.attempts))
                ours_ms.append(result.validation_ms / len(result.attempts))
        total = len(REQUESTS) * args.runs
        rows[arm] = (first / total, after / total, statistics.mean(attempts), statistics.median(model_ms),
                     statistics.median(ours_ms))
    print(f"{'arm':<18}{'first-try':>11}{'after retries':>15}{'attempts':>10}{'model ms p50':>14}{'ours ms p50':>13}")
    for arm, (first, after, mean_attempts, model_p50, ours_p50) in rows.items():
        print(f"{arm:<18}{first:>10.0%}{after:>15.0%}{mean_attempts:>10.2f}{model_p50:>14.0f}{ours_p50:>13.1f}")
    base = rows["without context"][0]
    gain = rows["with context"][0] - base
    print(f"first-try validity with the context: {gain:+.0%} points vs without (the seed asks for +50-70%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
