"""The click-free fast path (cli/fast_path.py) is click's parsing of the same commands, not a second CLI.

Every command line below runs twice in identical folders: as `osiris` runs it, and with click
imported first (which turns the fast path off, so the click group parses it). Exit code, stdout
and stderr must be equal, and the fast path must have been taken exactly where it is meant to be.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from osiris_runtime.cli.app import cli
from osiris_runtime.cli.fast_path import FAST_COMMANDS, click_shape

_PIPELINE = """\
oml_version: "0.1.0"
name: fast
params:
  since: {type: string, default: '2024-01-01'}
steps:
  - id: extract
    component: mysql.extractor
    mode: read
    config: {connection: "@mysql.shop", query: "SELECT * FROM orders WHERE d >= '${params.since}'"}
  - id: write
    component: filesystem.csv_writer
    mode: write
    needs: [extract]
    config: {path: "out/${params.since}.csv"}
"""
_CONNECTIONS = 'connections:\n  mysql:\n    shop: {host: h, database: d, user: u, password: "${SHOP_PASSWORD}"}\n'

# Each run prints, after the command, whether click was imported: the fast path never imports it.
_PROBE = ("import atexit, os, sys\n"
          "atexit.register(lambda: sys.stderr.write('\\n[click %s]' % ('click' in sys.modules)))\n"
          "if os.environ.get('FORCE_CLICK'): import click\n"
          "from osiris_runtime.cli.main import main\nmain()\n")

FAST = True
CLICK = False
# (command line, extra environment, whether the fast path takes it)
MATRIX: list[tuple[list[str], dict[str, str], bool]] = [
    (["oml", "validate", "p.yaml"], {}, FAST),
    (["oml", "validate", "p.yaml", "--json"], {}, FAST),
    (["oml", "validate", "--strict", "p.yaml"], {}, FAST),
    (["oml", "validate", "p.yaml", "bad.yaml", "esc.yaml"], {}, FAST),
    (["oml", "validate", "bad.yaml", "--json", "--strict", "--json"], {}, FAST),
    (["oml", "validate", "missing.yaml"], {}, FAST),
    (["oml", "validate", "p.yaml", "--connections", "osiris_connections.yaml"], {}, FAST),
    (["oml", "validate", "p.yaml", "--connections=osiris_connections.yaml"], {}, FAST),
    (["oml", "validate", "p.yaml", "--secrets-file", "secrets.env"], {}, FAST),
    (["oml", "validate", "p.yaml", "--discovery"], {}, FAST),
    (["--debug", "oml", "validate", "p.yaml"], {}, FAST),
    (["oml", "validate", "adir"], {}, CLICK),
    (["oml", "validate"], {}, CLICK),
    (["oml", "validate", "p.yaml", "--secrets-file", "nope.env"], {}, CLICK),
    (["oml", "validate", "p.yaml", "--nope"], {}, CLICK),
    (["oml", "validate", "--help"], {}, CLICK),
    (["oml", "validate", "p.yaml", "--json=1"], {}, CLICK),
    (["oml", "validate", "p.yaml", "--connections"], {}, CLICK),
    (["oml", "validate", "--", "p.yaml"], {}, CLICK),
    (["oml", "validate", "p.yaml", "--debug"], {}, CLICK),
    (["compile", "p.yaml", "--out", "o1"], {}, FAST),
    (["compile", "--out", "o2", "p.yaml", "--json"], {}, FAST),
    (["compile", "p.yaml", "--out=o3", "--mode", "strict"], {}, FAST),
    (["compile", "p.yaml", "--out", "o4", "--param", "since=2025-01-01", "--param", "x=1"], {}, FAST),
    (["compile", "p.yaml", "--out", "o5", "--profile", "dev"], {}, FAST),
    (["compile", "p.yaml", "--out", "o6"], {"OSIRIS_PROFILE": "dev"}, FAST),
    (["compile", "p.yaml", "--out", "o7"], {"OSIRIS_PROFILE": ""}, FAST),
    (["compile", "bad.yaml", "--out", "o8"], {}, FAST),
    (["compile", "bad.yaml", "--out", "o8", "--json"], {}, FAST),
    (["compile", "p.yaml", "--out", "o9", "--connections", "missing.yaml"], {}, FAST),
    (["compile", "p.yaml", "--out", "o9", "--mode", "off", "--mode", "warn"], {}, FAST),
    (["compile", "p.yaml"], {}, CLICK),
    (["compile", "missing.yaml", "--out", "o"], {}, CLICK),
    (["compile", "adir", "--out", "o"], {}, CLICK),
    (["compile", "p.yaml", "--out", "p.yaml"], {}, CLICK),
    (["compile", "p.yaml", "--out", "o", "--mode", "loud"], {}, CLICK),
    (["compile", "p.yaml", "--out", "o", "--param", "nameless"], {}, CLICK),
    (["compile", "p.yaml", "--out", "o", "--param", "=1"], {}, CLICK),
    (["compile", "p.yaml", "bad.yaml", "--out", "o"], {}, CLICK),
    (["compile", "p.yaml", "--out", "-o"], {}, CLICK),
    (["compile", "--help"], {}, CLICK),
    (["compile", "p.yaml", "--out", "o"], {"_OSIRIS_COMPLETE": "bash_complete", "COMP_WORDS": "osiris compile", "COMP_CWORD": "1"}, CLICK),
    (["--help"], {}, FAST),
    (["-h"], {}, FAST),
    (["--help"], {"COLUMNS": "40"}, FAST),
    (["--help"], {"COLUMNS": "61"}, FAST),
    (["--help"], {"COLUMNS": "79"}, FAST),
    (["--help"], {"COLUMNS": "200"}, FAST),
    (["--version"], {}, CLICK),
    (["oml"], {}, CLICK),
    ([], {}, CLICK),
]


def _workspace(root: Path) -> Path:
    root.mkdir()
    (root / "p.yaml").write_text(_PIPELINE)
    (root / "bad.yaml").write_text(_PIPELINE.replace("component: filesystem.csv_writer", "component: filesystem.csv_writr"))
    # An escape sequence in the input reaches a message: click strips it from output that is not a terminal.
    (root / "esc.yaml").write_text(_PIPELINE.replace("mysql.extractor", '"mysql.\\e[31mextractor"'))
    (root / "osiris_connections.yaml").write_text(_CONNECTIONS)
    (root / "secrets.env").write_text("SHOP_PASSWORD=s3cret\n")
    (root / "adir").mkdir()
    return root


def _run(args: list[str], cwd: Path, extra: dict[str, str], force_click: bool) -> tuple[int, str, str, bool]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSIRIS_") and k not in ("COLUMNS", "SHOP_PASSWORD")}
    env.update({"OSIRIS_CACHE_DIR": str(cwd.parent / "cache"), **extra})
    if force_click:
        env["FORCE_CLICK"] = "1"
    done = subprocess.run([sys.executable, "-c", _PROBE, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=60)
    stderr, _, marker = done.stderr.rpartition("\n[click ")
    # The two folders' own paths (a found connections file is named absolutely) are the one difference.
    return (done.returncode, done.stdout.replace(str(cwd), "<dir>"), stderr.replace(str(cwd), "<dir>"),
            marker.startswith("False"))


@pytest.mark.parametrize(("args", "extra", "fast"), MATRIX, ids=[" ".join(a) + (f" {e}" if e else "") for a, e, _ in MATRIX])
def test_the_fast_path_gives_what_click_gives(tmp_path: Path, args: list[str], extra: dict[str, str], fast: bool):
    fast_dir, click_dir = _workspace(tmp_path / "fast"), _workspace(tmp_path / "click")
    *fast_outcome, took_fast_path = _run(args, fast_dir, extra, force_click=False)
    *click_outcome, click_was_free = _run(args, click_dir, extra, force_click=True)
    assert not click_was_free
    assert fast_outcome == click_outcome
    assert took_fast_path is fast
    if "--out" in " ".join(args) and fast_outcome[0] == 0:
        out = next(a.split("=", 1)[1] if "=" in a else args[i + 1] for i, a in enumerate(args) if a.startswith("--out"))
        assert _tree(fast_dir / out) == _tree(click_dir / out)


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_fast_shapes_are_the_click_commands_parameters():
    ctx = click.Context(cli)
    for words, target, params in FAST_COMMANDS:
        command: click.Command = cli
        for word in words:
            assert isinstance(command, click.Group)
            command = command.get_command(ctx, word)
        assert click_shape(command) == params, words
        module_name, function = target.split(":")
        import importlib
        import inspect

        work = getattr(importlib.import_module(module_name), function)
        assert list(inspect.signature(work).parameters) == [p[0] for p in params], target


def test_a_mismatched_click_command_is_refused_by_the_shape_check():
    @click.command()
    @click.option("-v", "--verbose", count=True)
    def counting(verbose: int) -> None:
        pass

    with pytest.raises(ValueError):
        click_shape(counting)


def test_help_falls_back_to_click_when_its_sources_changed(tmp_path: Path):
    from osiris_runtime.cli import group_help

    shipped = Path(group_help.SHIPPED_HELP)
    if not shipped.exists():
        pytest.skip("no shipped help page (make install writes it)")
    assert group_help.shipped_help(60) is not None
    copy = tmp_path / "help.marshal"
    import marshal

    data = marshal.loads(shipped.read_bytes())
    data["sources"][0] += "\n# changed\n"
    copy.write_bytes(marshal.dumps(data))
    assert group_help.shipped_help(60, str(copy)) is None
    copy.write_bytes(b"not marshal")
    assert group_help.shipped_help(60, str(copy)) is None
