"""The `osiris` click group; its subcommands load lazily.

Each subcommand lives in its own module under `osiris_runtime.cli` and is imported only when it
is invoked (or when help lists it), so `osiris components list` never pays for the runner's
imports. `osiris oml validate`, `osiris compile` and `osiris --help` usually run without click at
all (cli/fast_path.py); this group is what they fall back to, and what the CLI reference is built from.
"""

from __future__ import annotations

import importlib

import click

from osiris_runtime.cli.main import SUBCOMMANDS


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
