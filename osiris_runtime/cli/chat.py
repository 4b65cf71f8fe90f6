"""`osiris chat`: the validated loop in a conversation, from a terminal or from piped standard input.

Each line is a request that builds on the pipeline so far ("now add a DuckDB step that keeps
shipped orders"); every answer is validated, retried when invalid, and shown with its problems.
Commands: `/save FILE` (only a valid pipeline), `/validate`, `/show`, `/help`, `/quit`.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click

from osiris_runtime.errors import ExitCode, OsirisError

HELP = """requests: describe a pipeline or a change to the current one
/save FILE   write the current pipeline (only when valid and secret-free)
/validate    validate the current pipeline again (specs or connections may have changed)
/show        print the current pipeline
/quit        leave (end of input does too)"""


@click.command("chat")
@click.option("--attempts", type=click.IntRange(1, 10), default=3, show_default=True,
              help="Answers to ask for per request at most.")
@click.option("--connections", "connections_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The connections file to validate against (default: found upwards from the current folder).")
@click.option("--system-prompt", "template_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Your own system prompt template ({{context}} marks the context).")
@click.option("--no-stream", is_flag=True, help="Ask for whole answers (for endpoints without streaming).")
@click.pass_context
def chat_command(ctx: click.Context, attempts: int, connections_path: Path | None, template_path: Path | None,
                 no_stream: bool) -> None:
    """Build a pipeline in a conversation with an LLM; every answer is validated (same endpoint settings as `generate`)."""
    from osiris_runtime.ai.loop import Attempt, judge_answer
    from osiris_runtime.ai.session import AssistantSession, save_pipeline
    from osiris_runtime.ai.workspace import AiWorkspace
    from osiris_runtime.cli.ai_display import AttemptProgress, print_pipeline, print_verdict, stderr_console, stdout_console

    console = stderr_console()
    out = stdout_console()
    interactive = sys.stdin.isatty()
    workspace = AiWorkspace.open(Path.cwd(), os.environ, connections_path)
    holder: list[AttemptProgress] = []
    session = AssistantSession.open(workspace, os.environ, attempts=attempts, template_path=template_path,
                                    stream=not no_stream, on_delta=lambda t: holder[-1].on_delta(t) if holder else None)
    current: Attempt | None = None
    if interactive:
        console.print("osiris chat: describe a pipeline; /help for commands")
    while True:
        if interactive:
            console.print("[bold]you>[/] ", end="")
        line = sys.stdin.readline()
        if not line:
            break
        line = line.strip()
        if not line:
            continue
        if line.startswith("/"):
            command, _, arg = line.partition(" ")
            if command in ("/quit", "/exit", "/q"):
                break
            if command == "/help":
                console.print(HELP, markup=False)
            elif command == "/show":
                if current is None or current.oml is None:
                    console.print("no pipeline yet")
                else:
                    print_pipeline(out, current.oml)
            elif command == "/validate":
                if current is None or current.oml is None:
                    console.print("no pipeline yet")
                    continue
                current = judge_answer(current.number, current.oml, workspace.registry, workspace.connections,
                                       redactor=session.redactor)
                print_verdict(console, current, session.redactor)
            elif command == "/save":
                if not arg.strip():
                    console.print("usage: /save FILE")
                elif current is None:
                    console.print("no pipeline yet")
                else:
                    try:
                        console.print(f"saved {save_pipeline(current, Path(arg.strip()))}")
                    except OsirisError as exc:
                        console.print(exc.message, markup=False, style="red")
            else:
                console.print(f"unknown command {command}; /help lists them")
            continue
        progress = AttemptProgress(console, attempts, session.redactor)
        holder.append(progress)
        started = time.perf_counter()
        try:
            with progress:
                result = session.ask(line, on_attempt=progress.on_attempt)
        except OsirisError as exc:  # the endpoint failed: say why and stop (exit 5)
            console.print(session.redactor.redact(f"error[{exc.code}]: {exc.message}"), markup=False, style="red")
            if exc.fix:
                console.print(f"  fix: {exc.fix}", markup=False)
            ctx.exit(int(exc.exit_code))
        turn_ms = (time.perf_counter() - started) * 1000.0
        current = result.best
        if current.oml is not None:
            print_pipeline(out, current.oml)
        print_verdict(console, current, session.redactor)
        console.print(f"turn: {turn_ms / 1000:.2f} s, of which the model {result.model_ms / 1000:.2f} s and "
                      f"osiris {turn_ms - result.model_ms:.0f} ms ({len(result.attempts)} attempt(s))", style="dim")
    ctx.exit(int(ExitCode.OK))

