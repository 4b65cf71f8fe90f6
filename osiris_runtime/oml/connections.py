"""The connections file (`osiris_connections.yaml`) model, with positions.

```yaml
connections:
  mysql:            # family
    shop:           # alias
      default: true
      host: db.internal
      password: ${MYSQL_PASSWORD}
```
Loading never resolves `${VAR}`: values are kept as written, so validation and the language
server never see a secret. `substitute_env` is the pure function the runner uses at run time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from osiris_runtime.errors import Diagnostic, Range, Severity
from osiris_runtime.oml.yaml_tree import parse_yaml, to_range

if TYPE_CHECKING:
    from osiris_runtime.registry import Registry

CONNECTIONS_FILENAME = "osiris_connections.yaml"
CONNECTIONS_ENV = "OSIRIS_CONNECTIONS"
HOME_ENV = "OSIRIS_HOME"

CONNECTION_REF = re.compile(r"^@([A-Za-z0-9_-]+)(?:\.([A-Za-z0-9_-]+))?$")
# `${NAME}` or `${NAME:-fallback}`; the fallback may be empty and may not contain `}`.
ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def parse_connection_ref(ref: str) -> tuple[str, str | None] | None:
    """`"@mysql.shop"` -> `("mysql", "shop")`; `"@mysql"` -> `("mysql", None)`; anything else -> None."""
    if not isinstance(ref, str):
        return None
    match = CONNECTION_REF.match(ref.strip())
    if match is None:
        return None
    return match.group(1), match.group(2)


def substitute_env(value: str, lookup: Callable[[str], str | None]) -> tuple[str, list[str]]:
    """Replace `${VAR}` and `${VAR:-fallback}` in a string.

    An unset or empty `VAR` takes the fallback when one is written; without one the reference is
    left verbatim and its name is returned in the list of unresolved variables (in order, once).
    """
    unresolved: list[str] = []

    def replace_one(match: re.Match[str]) -> str:
        name, fallback = match.group(1), match.group(2)
        found = lookup(name)
        if found:
            return found
        if fallback is not None:
            return fallback
        if name not in unresolved:
            unresolved.append(name)
        return match.group(0)

    return ENV_REFERENCE.sub(replace_one, value), unresolved


def env_references(value: Any) -> list[str]:
    """Names of the environment variables a value refers to (recursing into lists and mappings)."""
    names: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            names.extend(m.group(1) for m in ENV_REFERENCE.finditer(item) if m.group(1) not in names)
        elif isinstance(item, dict):
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            stack.extend(reversed(item))
    return names


@dataclass(frozen=True)
class ConnectionAlias:
    """One alias of a family; `fields` are raw values (`${VAR}` left as written, no `default` flag)."""

    family: str
    alias: str
    fields: Mapping[str, Any]
    is_default: bool
    range: Range  # the alias key
    field_ranges: Mapping[str, Range] = field(default_factory=dict)  # field name -> value range
    field_key_ranges: Mapping[str, Range] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return f"@{self.family}.{self.alias}"


@dataclass(frozen=True)
class ConnectionsFile:
    """Every alias of a connections file, by family, plus the problems found reading it."""

    path: Path | None
    diagnostics: tuple[Diagnostic, ...] = ()
    by_family: Mapping[str, tuple[ConnectionAlias, ...]] = field(default_factory=dict)
    family_ranges: Mapping[str, Range] = field(default_factory=dict)

    def families(self) -> list[str]:
        return list(self.by_family)

    def aliases(self, family: str) -> list[ConnectionAlias]:
        return list(self.by_family.get(family, ()))

    def get(self, family: str, alias: str | None = None) -> ConnectionAlias | None:
        """The named alias; without a name the default: `default: true`, else the alias named `default`."""
        candidates = self.by_family.get(family, ())
        if alias is not None:
            return next((a for a in candidates if a.alias == alias), None)
        flagged = next((a for a in candidates if a.is_default), None)
        if flagged is not None:
            return flagged
        return next((a for a in candidates if a.alias == "default"), None)


def find_connections_file(start: Path, env: Mapping[str, str], explicit: Path | None = None) -> Path | None:
    """Where the connections file is: `explicit`, else `$OSIRIS_CONNECTIONS`, else the nearest
    `osiris_connections.yaml` walking up from `start` (a file or directory), else `$OSIRIS_HOME`'s.

    An explicit or environment path is returned even if missing, so the caller can report it.
    """
    if explicit is not None:
        return Path(explicit)
    if env.get(CONNECTIONS_ENV):
        return Path(env[CONNECTIONS_ENV])
    start = Path(start)
    directory = start if start.is_dir() else start.parent
    try:
        directory = directory.resolve()
    except OSError:
        pass
    for candidate_dir in (directory, *directory.parents):
        candidate = candidate_dir / CONNECTIONS_FILENAME
        if candidate.is_file():
            return candidate
    if env.get(HOME_ENV):
        candidate = Path(env[HOME_ENV]) / CONNECTIONS_FILENAME
        if candidate.is_file():
            return candidate
    return None


def load_connections(path: Path) -> ConnectionsFile:
    """Read and check a connections file; a missing or unreadable file is a diagnostic, not an error."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except OSError as exc:
        return ConnectionsFile(
            path,
            (
                Diagnostic(
                    "connection.no-file",
                    f"cannot read connections file {path}: {exc.strerror or exc}",
                    fix=f"create {CONNECTIONS_FILENAME} or point {CONNECTIONS_ENV} / --connections at it",
                    source=str(path),
                ),
            ),
        )
    return parse_connections(text, path)


def _problem(code: str, message: str, rng: Range, fix: str, severity: Severity = Severity.ERROR, **data: Any) -> Diagnostic:
    return Diagnostic(code, message, rng, severity, fix=fix, data=data)


def parse_connections(text: str, path: Path | None = None) -> ConnectionsFile:
    """The pure part of `load_connections`: text in, model with positions and diagnostics out."""
    tree = parse_yaml(text)
    diagnostics: list[Diagnostic] = list(tree.diagnostics)
    values = {path: to_range(span) for path, span in tree.value_ranges.items()}
    keys = {path: to_range(span) for path, span in tree.key_ranges.items()}
    by_family: dict[str, tuple[ConnectionAlias, ...]] = {}
    family_ranges: dict[str, Range] = {}
    root = tree.data
    connections = root.get("connections") if isinstance(root, dict) else None
    if root is not None and not isinstance(connections, dict):
        where = keys.get(("connections",)) or values.get((), Range())
        diagnostics.append(
            _problem(
                "connection.invalid-file",
                "a connections file needs a `connections:` mapping of families",
                Range(where.start, where.start) if "connections" not in (root if isinstance(root, dict) else {}) else where,
                "write `connections:` then `<family>:` then `<alias>:` with its fields",
            )
        )
    for family, aliases in (connections if isinstance(connections, dict) else {}).items():
        family_path = ("connections", family)
        family_ranges[str(family)] = keys.get(family_path, Range())
        if not isinstance(aliases, dict):
            diagnostics.append(
                _problem(
                    "connection.invalid-file",
                    f"family `{family}` must be a mapping of aliases",
                    values.get(family_path) or keys.get(family_path, Range()),
                    f"write `{family}:` then `<alias>:` with its fields",
                )
            )
            continue
        found: list[ConnectionAlias] = []
        for alias, fields in aliases.items():
            alias_path = family_path + (alias,)
            alias_range = keys.get(alias_path, Range())
            if not isinstance(fields, dict):
                diagnostics.append(
                    _problem(
                        "connection.invalid-file",
                        f"alias `{family}.{alias}` must be a mapping of fields",
                        values.get(alias_path) or alias_range,
                        "write the alias fields (host, user, ...) indented under it",
                    )
                )
                continue
            found.append(
                ConnectionAlias(
                    family=str(family),
                    alias=str(alias),
                    fields={k: v for k, v in fields.items() if k != "default"},
                    is_default=fields.get("default") is True,
                    range=alias_range,
                    field_ranges={str(k): values[alias_path + (k,)] for k in fields if alias_path + (k,) in values},
                    field_key_ranges={str(k): keys[alias_path + (k,)] for k in fields if alias_path + (k,) in keys},
                )
            )
        defaults = [a for a in found if a.is_default]
        for extra in defaults[1:]:
            diagnostics.append(
                _problem(
                    "connection.multiple-defaults",
                    f"family `{family}` has more than one `default: true` alias; `{defaults[0].alias}` is used",
                    extra.field_key_ranges.get("default", extra.range),
                    "keep `default: true` on one alias only",
                    Severity.WARNING,
                )
            )
        by_family[str(family)] = tuple(found)
    source = str(path) if path is not None else None
    return ConnectionsFile(
        path,
        tuple(replace(d, source=source) if source and d.source is None else d for d in diagnostics),
        by_family,
        family_ranges,
    )


def validate_connections(conns: ConnectionsFile, registry: "Registry") -> list[Diagnostic]:
    """Each alias against the fields its family's components expect (families no connected component reads are skipped).

    Unknown fields and missing required connection fields are warnings (field names vary between
    connection styles); a literal secret (not `${VAR}`) is a warning too. Values are never resolved.
    """
    from osiris_runtime.friendly import did_you_mean

    by_family: dict[str, list[Any]] = {}
    for spec in registry.specs():
        if spec.connection_fields:  # only components that take a connection say what an alias holds
            by_family.setdefault(spec.family, []).append(spec)
    source = str(conns.path) if conns.path is not None else None
    out: list[Diagnostic] = []
    for family in conns.families():
        specs = by_family.get(family)
        if not specs:
            continue
        known: set[str] = set()
        secret_keys: set[str] = set()
        for spec in specs:
            known |= set(spec.connection_fields) | set(spec.properties)
            secret_keys |= set(registry.get_secret_map(spec.name).secret_keys)
        known |= secret_keys
        # Required everywhere in the family and supplied by connections: what an alias must hold.
        required = set.intersection(*({r for r in s.required if r in s.connection_fields} for s in specs))
        for alias in conns.aliases(family):
            for name, value in alias.fields.items():
                rng = alias.field_key_ranges.get(str(name), alias.range)
                if name not in known:
                    guess = did_you_mean(str(name), known)
                    out.append(Diagnostic(
                        "connection.unknown-field",
                        f"`{name}` is not a field any `{family}` component reads",
                        rng, Severity.WARNING,
                        fix=f"did you mean `{guess}`?" if guess else f"known fields: {', '.join(sorted(known))}",
                        data={"replacement": guess} if guess else {}, source=source))
                elif name in secret_keys and isinstance(value, (str, int)) and not isinstance(value, bool) \
                        and str(value) and not ENV_REFERENCE.search(str(value)):
                    out.append(Diagnostic(
                        "connection.literal-secret",
                        f"`{family}.{alias.alias}.{name}` is written as a literal secret",
                        alias.field_ranges.get(str(name), rng), Severity.WARNING,
                        fix=f"write `{name}: ${{{family.upper()}_{str(name).upper()}}}` and export the variable",
                        data={"field": str(name), "family": family}, source=source))
            has_secret = bool(set(alias.fields) & secret_keys)
            missing = sorted(r for r in required if r not in alias.fields and not (has_secret and r in secret_keys))
            if missing:
                out.append(Diagnostic(
                    "connection.missing-field",
                    f"alias `{family}.{alias.alias}` lacks {', '.join(f'`{m}`' for m in missing)}",
                    alias.range, Severity.WARNING,
                    fix=f"add {', '.join(f'`{m}:`' for m in missing)} under `{alias.alias}:`",
                    data={"missing": missing}, source=source))
    return out
