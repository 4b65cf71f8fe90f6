"""`osiris generate "<request>"`: a valid pipeline from a description, through the validated loop.

Exit 0 with the pipeline written (or printed); 2 when every attempt stayed invalid (the problems
are printed, nothing is written); 5 when the endpoint is not configured, refuses the key, times
out or is down.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from osiris_runtime.errors import ExitCode, OsirisError


@click.command("generate")
@click.argument("request")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the pipeline here (default: print it on standard output).")
@click.option("--attempts", type=click.IntRange(1, 10), default=3, show_default=True,
              help="Answers to ask for at most (the first valid one wins).")
@click.option("--connections", "connections_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The connections file to validate against (default: found upwards from the current folder).")
@click.option("--system-prompt", "template_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Your own system prompt template ({{context}} marks the context); default: $OSIRIS_SYSTEM_PROMPT or the packaged one.")
@click.option("--no-stream", is_flag=True, help="Ask for the whole answer at once (for endpoints without streaming).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: ok, file, pipeline, attempts, remaining problems.")
@click.pass_context
def generate_command(ctx: click.Context, request: str, out_path: Path | None, attempts: int,
                     connections_path: Path | None, template_path: Path | None, no_stream: bool, as_json: bool) -> None:
    """Write an OML pipeline for REQUEST with an LLM, validated and retried with the validator's feedback.

    The endpoint is any OpenAI-compatible chat API: OSIRIS_LLM_BASE_URL, OSIRIS_LLM_MODEL,
    OSIRIS_LLM_API_KEY (OSIRIS_LLM_TIMEOUT seconds, default 60).
    """
    from osiris_runtime.ai.session import AssistantSession, attempt_json, save_pipeline
    from osiris_runtime.ai.workspace import AiWorkspace
    from osiris_runtime.cli.ai_display import AttemptProgress, print_pipeline, print_problems, stderr_console, stdout_console

    console = stderr_console()
    try:
        workspace = AiWorkspace.open(Path.cwd(), os.environ, connections_path)
        progress_holder: list[AttemptProgress] = []
        session = AssistantSession.open(workspace, os.environ, attempts=attempts, template_path=template_path,
                                        stream=not no_stream,
                                        on_delta=lambda text: progress_holder[0].on_delta(text) if progress_holder else None)
        progress = AttemptProgress(console, attempts, session.redactor)
        progress_holder.append(progress)
        if as_json:
            result = session.ask(request)
        else:
            with progress:
                result = session.ask(request, on_attempt=progress.on_attempt)
    except OsirisError as exc:
        if not as_json:
            raise
        click.echo(json.dumps({"ok": False, "error": {"code": exc.code, "message": exc.message, "fix": exc.fix}}))
        ctx.exit(int(exc.exit_code))
    best = result.best
    written = save_pipeline(best, out_path) if best.ok and out_path is not None else None
    if as_json:
        click.echo(json.dumps(session.redactor.redact({
            "ok": best.ok, "file": str(written) if written else None, "pipeline": best.oml if best.ok else None,
            "attempts": [attempt_json(a) for a in result.attempts],
            "remaining": [] if best.ok else [p.__dict__ for p in best.problems],
            "model_ms": round(result.model_ms, 1), "validation_ms": round(result.validation_ms, 2),
        }), ensure_ascii=False))
    elif best.ok:
        if written is not None:
            console.print(f"wrote {written} ({len(result.attempts)} attempt(s))")
        else:
            print_pipeline(stdout_console(), best.oml or "")
    else:
        print_problems(console, best.problems, session.redactor,
                       f"no valid pipeline after {len(result.attempts)} attempt(s); problems of the best one:")
        console.print("nothing was written")
    ctx.exit(int(ExitCode.OK) if best.ok else int(ExitCode.VALIDATION))

