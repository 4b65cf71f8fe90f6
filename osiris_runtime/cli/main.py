"""The `osiris` command's entry points: the click group of cli/app.py, or, for the command lines
cli/fast_path.py knows, the command without importing click. Cold start matters: editors and CI
call the CLI often.
"""

from __future__ import annotations

import sys

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


# Commands that only read their inputs and write their own files (closed by `with`), then end. Run
# as the program, they tune the cyclic GC for a short-lived process (see `run_cli`). Commands that
# hold connections, threads or sandboxes (run, discover, preview, ...) or talk for long (chat, mcp)
# keep Python's defaults.
_SHORT_COMMANDS = frozenset({None, "compile", "oml", "components"})


def main(argv: list[str] | None = None) -> None:
    """Entry point of `osiris`; maps `OsirisError` to its exit code and a clean message.

    `argv` None: the process's own command line, and the process ends with the command.
    """
    import os

    from osiris_runtime.cli.fast_path import fast_command, help_page

    args = sys.argv[1:] if argv is None else argv
    page = help_page(args, os.environ)
    if page is not None:  # `osiris --help`, as click prints it
        from osiris_runtime.cli.echo import echo

        echo(page)
        sys.exit(0)
    from osiris_runtime.cli.exits import run_cli
    from osiris_runtime.code_cache import compiled_dataclass_methods

    command = next((a for a in args if not a.startswith("-")), None)
    short_lived = argv is None and command in _SHORT_COMMANDS
    parsed = fast_command(args, os.environ)  # the common command lines, without importing click
    with compiled_dataclass_methods():  # the methods of the dataclasses the command defines: compiled once, cached
        if parsed is not None:
            run_cli(None, argv, short_lived=short_lived, command=parsed)
        else:
            from osiris_runtime.cli.app import cli

            run_cli(cli, argv, short_lived=short_lived)


def headless_run(argv: list[str] | None = None) -> None:
    """Entry point of `osiris-run`: `osiris run` for CI and editors (no colour, logs on stderr)."""
    from osiris_runtime.cli.exits import run_cli

    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--version"]:  # what the e2b engine asks a sandbox's login shell
        from osiris_runtime.runner.wheel import installed_version

        print(f"osiris-run, version {installed_version()}")
        sys.exit(0)
    from osiris_runtime.cli.app import cli

    run_cli(cli, ["run", "--headless", *args], prog_name="osiris-run")


if __name__ == "__main__":
    main()
