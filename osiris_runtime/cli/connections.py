"""`osiris connections list` and `osiris connections doctor [ALIAS]`.

`list` shows every alias with its non-secret fields as written (secret fields masked, `${VAR}`
references listed with whether each is set). `doctor` resolves each alias the way a run does
(environment + --secrets-file), connects, and reports the latency or a clear reason: dns,
refused, timeout, auth, config. Any failure exits 5. Every line goes through the redactor.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from osiris_runtime.connectivity import Probe, probe
from osiris_runtime.errors import ConfigError, ExitCode, OsirisError


@click.group("connections")
def connections() -> None:
    """Inspect and test the aliases of osiris_connections.yaml."""


_connections_option = click.option(
    "--connections", "connections_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="osiris_connections.yaml (default: $OSIRIS_CONNECTIONS, else the nearest one above this folder).")


def _load(connections_path: Path | None) -> tuple[Path, Any]:
    from osiris_runtime.oml.connections import find_connections_file, load_connections

    path = find_connections_file(Path.cwd(), os.environ, connections_path)
    if path is None:
        raise ConfigError("no osiris_connections.yaml found", code="connection.no-file",
                          fix="create one here or pass --connections FILE")
    file = load_connections(path)
    errors = [d for d in file.diagnostics if d.is_error]
    if errors:
        raise ConfigError(f"connections file {path} has {len(errors)} error(s)", code="connection.invalid-file",
                          diagnostics=errors)
    return path, file


def _redactor() -> Any:
    from osiris_runtime.registry import registry_for_cli
    from osiris_runtime.secrets import Redactor

    registry = registry_for_cli()
    keys = {k for spec in registry.specs() for k in registry.get_secret_map(spec.name).secret_keys}
    return Redactor(keys), registry


@connections.command("list")
@_connections_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def list_command(connections_path: Path | None, as_json: bool) -> None:
    """List every alias with its non-secret fields (secrets masked) and the variables it uses."""
    from osiris_runtime.oml.connections import env_references

    path, file = _load(connections_path)
    redactor, _ = _redactor()
    out: dict[str, Any] = {}
    for family in file.families():
        for alias in file.aliases(family):
            fields = {k: v for k, v in alias.fields.items() if k != "default"}
            variables = sorted({name for value in fields.values() for name in env_references(value)})
            out.setdefault(family, {})[alias.alias] = {
                "default": alias.is_default,
                "fields": {k: _shown(k, v, redactor) for k, v in fields.items()},
                "variables": {name: bool(os.environ.get(name)) for name in variables},
            }
    if as_json:
        click.echo(json.dumps({"file": str(path), "connections": out}, sort_keys=True))
        return
    click.echo(f"connections file: {path}")
    for family, aliases in out.items():
        for name, info in aliases.items():
            shown = ", ".join(f"{k}={v}" for k, v in info["fields"].items())
            variables = " ".join(f"{v}{'' if ok else ' (unset)'}" for v, ok in info["variables"].items())
            marker = " (default)" if info["default"] else ""
            click.echo(f"@{family}.{name}{marker}: {shown}" + (f"  vars: {variables}" if variables else ""))


def _shown(key: str, value: Any, redactor: Any) -> Any:
    """A field as `list` shows it: a pure `${VAR}` reference is no secret and helps; literals are
    masked, and so is the `:-fallback` of a reference in a secret field."""
    import re

    from osiris_runtime.oml.connections import masked_fallbacks

    if isinstance(value, str) and re.fullmatch(r"(\$\{[^}]*\})+", value.strip()):
        return masked_fallbacks(value) if redactor.is_secret_key(key) else value
    return redactor.redact({key: value})[key]



@connections.command("doctor")
@click.argument("alias", required=False)
@_connections_option
@click.option("--secrets-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Variables for ${VAR}: dotenv or YAML, as for `osiris run`.")
@click.option("--timeout", type=click.FloatRange(0.1, 60), default=5.0, show_default=True, help="Seconds per connection.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def doctor_command(ctx: click.Context, alias: str | None, connections_path: Path | None, secrets_file: Path | None,
                   timeout: float, as_json: bool) -> None:
    """Connect with ALIAS (@family.alias, family.alias, a family or an alias name; default: all)."""
    from osiris_runtime.secrets import ConnectionResolver, ConnectionTarget, SecretSources, secret_keys_from_registry

    path, file = _load(connections_path)
    redactor, registry = _redactor()
    resolver = ConnectionResolver(path, SecretSources(secrets_file), redactor, secret_keys_from_registry(registry))
    targets = _select(file, alias)
    results: dict[str, Probe] = {}
    for family, name in targets:
        label = f"@{family}.{name}"
        try:
            resolved = resolver.resolve(ConnectionTarget(family, name))
        except OsirisError as exc:
            results[label] = Probe(False, "config", exc.message)
            continue
        results[label] = probe(family, resolved, timeout)
    failed = [label for label, p in results.items() if not p.ok and p.category != "unsupported"]
    report = {label: {"ok": p.ok, "category": p.category, "message": p.message, "latency_ms": p.latency_ms}
              for label, p in results.items()}
    report = redactor.redact(report)
    for r in report.values():  # clipped only once redacted: a cut secret would leave its prefix unmasked
        r["message"] = r["message"][:300]
    if as_json:
        click.echo(json.dumps({"file": str(path), "results": report, "ok": not failed}, sort_keys=True))
    else:
        for label, r in report.items():
            if r["ok"]:
                click.echo(f"ok    {label}  {r['latency_ms']:.0f} ms")
            else:
                click.echo(f"{'skip' if r['category'] == 'unsupported' else 'FAIL'}  {label}  {r['category']}: {r['message']}")
    ctx.exit(int(ExitCode.CONFIG) if failed else 0)


def _select(file: Any, wanted: str | None) -> list[tuple[str, str]]:
    everything = [(f, a.alias) for f in file.families() for a in file.aliases(f)]
    if wanted is None:
        return everything
    text = wanted.lstrip("@")
    family, _, name = text.partition(".")
    if name:
        chosen = [(f, a) for f, a in everything if f == family and a == name]
    else:
        chosen = [(f, a) for f, a in everything if f == text] or [(f, a) for f, a in everything if a == text]
    if not chosen:
        known = ", ".join(f"@{f}.{a}" for f, a in everything) or "none"
        raise ConfigError(f"no connection {wanted!r} (known: {known})", code="connection.unknown-alias")
    return chosen
