"""`osiris compile`: OML -> `<out>/manifest.yaml` + `<out>/cfg/<step>.json`.

A thin edge over `osiris_runtime.compiler`; the command's work is in cli/compile_to_dir.py (the
click-free fast path calls it too). Exit codes: 0 ok, 2 validation, 3 compile, 5 config.
"""

from __future__ import annotations

from pathlib import Path

import click


def parse_param_options(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, str]:
    from osiris_runtime.cli.compile_to_dir import param_pairs

    parsed = param_pairs(values)
    if isinstance(parsed, str):
        raise click.BadParameter(parsed, ctx=ctx, param=param)
    return parsed


@click.command("compile")
@click.argument("pipeline", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output directory for manifest.yaml and cfg/*.json (stale cfg files are removed).")
@click.option("--mode", type=click.Choice(["warn", "strict", "off"]), default="warn", show_default=True,
              help="strict: warnings are errors; off: skip config validation (never secret checks).")
@click.option("--param", "params", multiple=True, callback=parse_param_options, metavar="NAME=VALUE",
              help="Set a pipeline param (beats OSIRIS_PARAM_<NAME>, the profile and the default).")
@click.option("--profile", default=None, envvar="OSIRIS_PROFILE", help="Active profile (profiles.<name>.params).")
@click.option("--connections", "connections_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="osiris_connections.yaml to check connection references against.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (see docs/manifest.md).")
@click.pass_context
def compile_command(ctx: click.Context, pipeline: Path, out_dir: Path, mode: str, params: dict[str, str],
                    profile: str | None, connections_path: Path | None, as_json: bool) -> None:
    """Compile PIPELINE into a deterministic manifest and per-step configs."""
    from osiris_runtime.cli.compile_to_dir import compile_to_dir

    ctx.exit(compile_to_dir(pipeline, out_dir, mode, params, profile, connections_path, as_json))
