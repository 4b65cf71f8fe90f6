"""The `osiris` command: a thin Click group whose subcommands load lazily.

Each subcommand lives in its own module under `osiris_runtime.cli` and is imported only when it
is invoked (or when help lists it), so `osiris components list` never pays for the runner's
imports. Cold start matters: editors and CI call the CLI often.
"""

from __future__ import annotations

import importlib
import sys

import click

# name -> "module:attribute" of a click.Command; one line per subcommand, owned by that module.
SUBCOMMANDS: dict[str, str] = {
    "components": "osiris_runtime.cli.components:components",
    "oml": "osiris_runtime.cli.oml:oml",
    "compile": "osiris_runtime.cli.compile:compile_command",
    "run": "osiris_runtime.cli.run:run_command",
    "connections": "osiris_runtime.cli.connections:connections",
    "prompts": "osiris_runtime.cli.prompts:prompts",
    "generate": "osiris_runtime.cli.generate:generate_command",
    "chat": "osiris_runtime.cli.chat:chat_command",
    "mcp": "osiris_runtime.cli.mcp:mcp_command",
    "discover": "osiris_runtime.cli.discover:discover_command",
    "preview": "osiris_runtime.cli.preview:preview_command",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = SUBCOMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # not built yet
                return None
            raise
        return getattr(module, attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="osiris-oml", prog_name="osiris")
@click.option("--debug", is_flag=True, help="Show tracebacks for unexpected errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Osiris: validate, compile and run OML data pipelines."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def main(argv: list[str] | None = None) -> None:
    """Entry point of `osiris`; maps `OsirisError` to its exit code and a clean message."""
    from osiris_runtime.cli.exits import run_cli

    run_cli(cli, argv)


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
