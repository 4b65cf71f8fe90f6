"""`osiris discover [@family.alias ...]`: read the live schema of connections into the cache.

Without an alias, every discoverable alias of the connections file (mysql, supabase, postgres).
A fresh cache of the same connection is reused unless `--refresh`; `--max-age` says how old is
still fresh; `--check` connects to nothing and reports missing, stale and mismatched caches.
Connection failures are reported like `connections doctor` (category and message, exit 5);
every line passes through the redactor.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from osiris_runtime.errors import ConfigError, ExitCode


@click.command("discover")
@click.argument("aliases", nargs=-1)
@click.option("--tables", "pattern", default=None, help="Only tables whose name matches this glob (e.g. 'order*').")
@click.option("--refresh", is_flag=True, help="Discover again even when a fresh cache exists.")
@click.option("--max-age", default=None, help="A cache older than this is stale (30s, 15m, 12h, 7d).")
@click.option("--check", is_flag=True, help="Connect to nothing: report missing, stale or mismatched caches (exit 5).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--connections", "connections_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="osiris_connections.yaml (default: $OSIRIS_CONNECTIONS, else the nearest one above this folder).")
@click.option("--secrets-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Variables for ${VAR}: dotenv or YAML, as for `osiris run`.")
@click.option("--timeout", type=click.FloatRange(0.1, 120), default=10.0, show_default=True, help="Seconds per connection.")
@click.pass_context
def discover_command(ctx: click.Context, aliases: tuple[str, ...], pattern: str | None, refresh: bool,
                     max_age: str | None, check: bool, as_json: bool, connections_path: Path | None,
                     secrets_file: Path | None, timeout: float) -> None:
    """Discover tables, columns, keys and row estimates of ALIASES (default: all) into .osiris/discovery/."""
    from osiris_runtime.cli.connections import _load, _redactor, _select
    from osiris_runtime.discovery.cache import cache_root, cache_status, parse_duration
    from osiris_runtime.discovery.refresh import DISCOVERABLE_FAMILIES

    try:
        max_age_s = parse_duration(max_age) if max_age else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--max-age") from None
    path, file = _load(connections_path)
    redactor, registry = _redactor()
    root = cache_root(path, Path.cwd())
    if aliases:
        targets = list(dict.fromkeys(t for wanted in aliases for t in _select(file, wanted)))
    else:
        targets = [t for t in _select(file, None) if t[0] in DISCOVERABLE_FAMILIES]
    if not targets:
        raise ConfigError(f"no mysql or supabase connections in {path}", code="connection.unknown-alias",
                          fix="add an alias, or name one: osiris discover @mysql.shop")
    chosen = [file.get(family, name) for family, name in targets]
    if check:
        statuses = [cache_status(root, a, registry, max_age_s=max_age_s) for a in chosen]
        _print_check(statuses, as_json)
        ctx.exit(0 if all(s.state == "fresh" for s in statuses) else int(ExitCode.CONFIG))
    results = _discover_all(chosen, file, path, secrets_file, redactor, registry, root, pattern=pattern,
                            refresh=refresh, max_age_s=max_age_s, timeout=timeout, quiet=as_json)
    failed = [r for r in results if not r.ok]
    if as_json:
        click.echo(json.dumps({"file": str(path), "ok": not failed, "results": [_result_json(r, root) for r in results]},
                              sort_keys=True))
    else:
        _print_summary(results, root)
    ctx.exit(int(ExitCode.CONFIG) if failed else 0)


def _discover_all(chosen: list[Any], file: Any, path: Path, secrets_file: Path | None, redactor: Any, registry: Any,
                  root: Path, *, pattern: str | None, refresh: bool, max_age_s: float | None, timeout: float,
                  quiet: bool) -> list[Any]:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from osiris_runtime.discovery.refresh import refresh_alias
    from osiris_runtime.secrets import ConnectionResolver, SecretSources, secret_keys_from_registry

    resolver = ConnectionResolver(path, SecretSources(secrets_file), redactor, secret_keys_from_registry(registry))
    console = Console(stderr=True)
    results = []
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[phase]}"),
                  TimeElapsedColumn(), console=console, transient=True,
                  disable=quiet or not console.is_terminal) as bar:
        for alias in chosen:
            label = f"@{alias.family}.{alias.alias}"
            task = bar.add_task(label, total=4, phase="")

            def step(phase: str, done: int, total: int, task: Any = task) -> None:
                bar.update(task, completed=done, total=total, phase=phase)

            results.append(refresh_alias(alias, resolver, registry, root, pattern=pattern, force=refresh,
                                         max_age_s=max_age_s, timeout=timeout, progress=step))
            bar.update(task, completed=4, total=4, phase="done")
    return results


def _result_json(result: Any, root: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"connection": result.connection, "state": result.state, "category": result.category,
                           "message": result.message}
    if result.catalog is not None:
        cat = result.catalog
        out.update(_counts(cat), cache=str(result.path) if result.path else None, schema_hash=cat.schema_hash,
                   discovered_at=cat.discovered_at, duration_ms=round(cat.duration_ms, 1), method=cat.method)
    return out


def _counts(catalog: Any) -> dict[str, int]:
    return {"tables": sum(1 for t in catalog.tables if t.kind == "table"),
            "views": sum(1 for t in catalog.tables if t.kind == "view"),
            "columns": sum(len(t.columns) for t in catalog.tables)}


def _print_summary(results: list[Any], root: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for name in ("connection", "status", "tables", "views", "columns", "time", "cache"):
        table.add_column(name, justify="right" if name in ("tables", "views", "columns", "time") else "left")
    for r in results:
        if r.catalog is None:
            table.add_row(r.connection, f"FAIL {r.category}", "", "", "", "", r.message)
            continue
        counts = _counts(r.catalog)
        cache = str(r.path.relative_to(root)) if r.path and r.path.is_relative_to(root) else str(r.path or "")
        table.add_row(r.connection, r.state, str(counts["tables"]), str(counts["views"]), str(counts["columns"]),
                      f"{r.catalog.duration_ms:.0f} ms", cache)
    tty = sys.stdout.isatty()
    Console(no_color=not tty, width=None if tty else 200).print(table)


def _print_check(statuses: list[Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"ok": all(s.state == "fresh" for s in statuses), "caches": [
            {"connection": s.connection, "state": s.state, "message": s.message,
             "age_s": None if s.age_s is None else round(s.age_s, 1)} for s in statuses]}, sort_keys=True))
        return
    for s in statuses:
        click.echo(f"{'ok   ' if s.state == 'fresh' else s.state.upper():<10} {s.connection}  {s.message}")
