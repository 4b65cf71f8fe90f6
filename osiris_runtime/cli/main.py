"""The `osiris` command: a thin Click group whose subcommands load lazily.

Each subcommand lives in its own module under `osiris_runtime.cli` and is imported only when it
is invoked (or when help lists it), so `osiris components list` never pays for the runner's
imports. Cold start matters: editors and CI call the CLI often.
"""

from __future__ import annotations

import importlib
import sys

import click

# name -> ("module:attribute" of a click.Command, its one-line summary). The summary is listed by
# `osiris --help` without importing the module; tests/cli check it equals the command's own.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "components": ("osiris_runtime.cli.components:components",
                   "Inspect the component specs (built-in, workspace components/, OSIRIS_COMPONENTS_PATH)."),
    "oml": ("osiris_runtime.cli.oml:oml", "Work with OML pipeline files."),
    "compile": ("osiris_runtime.cli.compile:compile_command",
                "Compile PIPELINE into a deterministic manifest and per-step configs."),
    "run": ("osiris_runtime.cli.run:run_command",
            "Run TARGET: an OML pipeline file, or a compiled directory (or its manifest.yaml)."),
    "connections": ("osiris_runtime.cli.connections:connections", "Inspect and test the aliases of osiris_connections.yaml."),
    "prompts": ("osiris_runtime.cli.prompts:prompts", "Prompts and context for LLMs that write OML."),
    "generate": ("osiris_runtime.cli.generate:generate_command",
                 "Write an OML pipeline for REQUEST with an LLM, validated and retried with the validator's feedback."),
    "chat": ("osiris_runtime.cli.chat:chat_command",
             "Build a pipeline in a conversation with an LLM; every answer is validated (same endpoint settings as `generate`)."),
    "mcp": ("osiris_runtime.cli.mcp:mcp_command",
            "Serve Osiris' tools over MCP on stdin/stdout (setup for common clients: docs/ai.md)."),
    "discover": ("osiris_runtime.cli.discover:discover_command",
                 "Discover tables, columns, keys and row estimates of ALIASES (default: all) into .osiris/discovery/."),
    "preview": ("osiris_runtime.cli.preview:preview_command", "Show the first rows of STEP in PIPELINE (writers never run)."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = SUBCOMMANDS.get(cmd_name)
        if entry is None:
            return None
        module_name, attr = entry[0].split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # not built yet
                return None
            raise
        return getattr(module, attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from SUBCOMMANDS' summaries: `osiris --help` imports no subcommand."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = [(name, _summary_within(SUBCOMMANDS[name][1], limit)) for name in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _summary_within(summary: str, limit: int) -> str:
    """Click's own shortening of a summary (its helper for this is deprecated)."""
    return click.Command("", help=summary).get_short_help_str(limit)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="osiris-oml", prog_name="osiris")
@click.option("--debug", is_flag=True, help="Show tracebacks for unexpected errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Osiris: validate, compile and run OML data pipelines."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


# Commands that only read their inputs and write their own files (closed by `with`), then end. Run
# as the program, they tune the cyclic GC for a short-lived process (see `run_cli`). Commands that
# hold connections, threads or sandboxes (run, discover, preview, ...) or talk for long (chat, mcp)
# keep Python's defaults.
_SHORT_COMMANDS = frozenset({None, "compile", "oml", "components"})


def main(argv: list[str] | None = None) -> None:
    """Entry point of `osiris`; maps `OsirisError` to its exit code and a clean message.

    `argv` None: the process's own command line, and the process ends with the command.
    """
    from osiris_runtime.cli.exits import run_cli

    command = next((a for a in (sys.argv[1:] if argv is None else argv) if not a.startswith("-")), None)
    run_cli(cli, argv, short_lived=argv is None and command in _SHORT_COMMANDS)


def headless_run(argv: list[str] | None = None) -> None:
    """Entry point of `osiris-run`: `osiris run` for CI and editors (no colour, logs on stderr)."""
    from osiris_runtime.cli.exits import run_cli

    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--version"]:  # what the e2b engine asks a sandbox's login shell
        from osiris_runtime.runner.wheel import installed_version

        print(f"osiris-run, version {installed_version()}")
        sys.exit(0)
    run_cli(cli, ["run", "--headless", *args], prog_name="osiris-run")


if __name__ == "__main__":
    main()
