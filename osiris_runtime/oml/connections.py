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
from typing import TYPE_CHECKING, Any, Callable, Collection, Literal, Mapping

from osiris_runtime.bounded_read import read_limited
from osiris_runtime.errors import Diagnostic, Range, Severity
from osiris_runtime.oml.yaml_tree import parse_yaml, to_range

if TYPE_CHECKING:
    from osiris_runtime.registry import ComponentSpec, Registry

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


_SHOWABLE_REF = re.compile(r"@?[A-Za-z0-9_.-]{1,80}")


def shown_ref(ref: object) -> str:
    """A wrong `connection:` value as a message may show it: echoed only when it is name-shaped
    (`mysql.shop`); anything else may be a pasted DSN with its password, so only its kind is said."""
    if isinstance(ref, str) and _SHOWABLE_REF.fullmatch(ref.strip()):
        return f"`{ref.strip()}`"
    if isinstance(ref, str):
        return "(a string that is not a reference, not shown: it may hold a password)"
    return f"(a {type(ref).__name__})" if ref is not None else "(empty)"


def masked_fallbacks(value: str) -> str:
    """`${VAR:-literal}` -> `${VAR:-***}`: the fallback of a secret field is a secret too."""
    return ENV_REFERENCE.sub(lambda m: m.group(0) if m.group(2) is None else f"${{{m.group(1)}:-***}}", value)


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


# Other spellings connection files use for a field, in the order they are looked up: the
# original's Supabase connections call the key `service_role_key` (or `anon_key`).
FIELD_SPELLINGS: Mapping[str, tuple[str, ...]] = {"key": ("key", "service_role_key", "anon_key")}


def field_value(fields: Mapping[str, Any], name: str) -> Any:
    """A connection field under any of its spellings (`key`, `service_role_key`, `anon_key`); None if absent."""
    for spelling in FIELD_SPELLINGS.get(name, (name,)):
        value = fields.get(spelling)
        if value not in (None, ""):
            return value
    return None


def supabase_rest_url(*field_sets: Mapping[str, Any]) -> str | None:
    """The Supabase project url: the first `url` of `field_sets` (in precedence order), else
    `https://<project_id>.supabase.co` from the first `project_id`; None when neither is given.
    The one place the url is built from a project reference (driver, discovery, doctor)."""
    for fields in field_sets:
        url = field_value(fields, "url")
        if url is not None:
            return str(url)
    for fields in field_sets:
        project_id = field_value(fields, "project_id")
        if project_id is not None:
            return f"https://{str(project_id).strip()}.supabase.co"
    return None


# Fields an alias supplies through another one: the Supabase REST url is built from `project_id`.
STANDS_IN_FOR: Mapping[str, tuple[str, ...]] = {"url": ("project_id",)}


def supplied_fields(fields: Mapping[str, Any]) -> frozenset[str]:
    """The config fields an alias really supplies: its own field names, other spellings folded in
    (`service_role_key` supplies `key`, `project_id` supplies `url`). Nothing else is assumed."""
    names = {str(k) for k, v in fields.items() if v is not None}
    names |= {name for name, spellings in FIELD_SPELLINGS.items() if names & set(spellings)}
    names |= {name for name, others in STANDS_IN_FOR.items() if names & set(others)}
    return frozenset(names)


def field_spellings(names: Collection[str]) -> frozenset[str]:
    """`names` plus every other spelling a connection file may use for them."""
    return frozenset(names) | {s for n in names for s in FIELD_SPELLINGS.get(n, ())}


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
        """The named alias; without a name the family default (see `resolve_step_alias`)."""
        if alias is None:
            chosen = resolve_step_alias(self, family)
            return chosen.entry if isinstance(chosen, ResolvedAlias) else None
        return next((a for a in self.by_family.get(family, ()) if a.alias == alias), None)


# How the alias of a step was chosen: named in `connection:`, the family's `default: true` alias,
# or the alias literally named `default`.
AliasSource = Literal["explicit", "default-flag", "default-name"]


@dataclass(frozen=True)
class ResolvedAlias:
    """The alias a step uses, and how it was chosen. `fields` are raw (`${VAR}` as written)."""

    entry: ConnectionAlias
    source: AliasSource

    @property
    def family(self) -> str:
        return self.entry.family

    @property
    def name(self) -> str:
        return self.entry.alias

    @property
    def fields(self) -> Mapping[str, Any]:
        return self.entry.fields

    @property
    def ref(self) -> str:
        return self.entry.ref

    @property
    def is_default(self) -> bool:
        """Chosen as the family default (the step names no alias)."""
        return self.source != "explicit"

    def describe(self) -> str:
        """`@mysql.shop`, or `@mysql.shop (the mysql default: `default: true`)` for a default."""
        if self.source == "default-flag":
            return f"{self.ref} (the `{self.family}` default: `default: true`)"
        if self.source == "default-name":
            return f"{self.ref} (the `{self.family}` default: the alias named `default`)"
        return self.ref


@dataclass(frozen=True)
class AliasProblem:
    """Why no alias could be chosen: a code, a one-line message and a fix (never a secret)."""

    code: str  # connection.invalid-ref | connection.family-mismatch | connection.unknown-alias | connection.no-default
    message: str
    fix: str
    family: str
    alias: str | None = None
    available: tuple[str, ...] = ()


def takes_connection(spec: "ComponentSpec", config: Mapping[str, Any] | None = None) -> bool:
    """Whether a step of this component uses a connection: its config names one, or the spec has
    connection-supplied fields (so the family default applies). DuckDB and filesystem steps have none."""
    return bool(spec.connection_fields) or (isinstance(config, Mapping) and config.get("connection") is not None)


def with_step_overrides(resolved: Mapping[str, Any], config: Mapping[str, Any] | None,
                        spec: "ComponentSpec") -> dict[str, Any]:
    """The connection a step runs against: the resolved alias with the step's own connection fields
    over it where the spec lets a step set them (`override: allowed` or `warning`). The one place
    overrides are applied (the runner's `ctx.connection()` goes through it), so a step never runs
    against another host, port or database than the pipeline says.

    A `forbidden` field is rejected at validation (`connection.forbidden-override`); a cfg written
    by hand that holds one anyway is refused here too (`ConfigError`, exit 5), never ignored.
    """
    from osiris_runtime.errors import ConfigError

    merged = dict(resolved)
    for name, field in spec.connection_fields.items():
        value = config.get(name) if isinstance(config, Mapping) else None
        if value is None:
            continue
        if field.override == "forbidden":
            raise ConfigError(f"`{name}` comes from the connection and cannot be set in the step",
                              code="connection.forbidden-override",
                              fix=f"remove `{name}` from the step; set it on the alias in {CONNECTIONS_FILENAME}")
        merged[name] = value
    return merged


def resolve_step_alias(connections: ConnectionsFile, family: str, ref: str | None = None) -> ResolvedAlias | AliasProblem:
    """The alias a step of a `family` component uses: the one rule for runner, validator, compiler and editor.

    `ref` is the step's `config.connection` (`"@family.alias"`) or None. Without one, the family's
    alias marked `default: true` (the first, if several are), else the alias named `default`.
    Pure: the connections file is passed in, nothing is resolved (`${VAR}` stays as written).
    """
    if ref is not None:
        parsed = parse_connection_ref(ref) if isinstance(ref, str) else None
        if parsed is None or parsed[1] is None:
            return AliasProblem("connection.invalid-ref", f"invalid connection reference {shown_ref(ref)}",
                                'write it as "@family.alias"', family)
        if parsed[0] != family:
            return AliasProblem("connection.family-mismatch", f"a `{family}` component needs a `{family}` connection, not `{parsed[0]}`",
                                f'use "@{family}.<alias>"', family, parsed[1])
        alias = parsed[1]
    else:
        alias = None
    candidates = connections.by_family.get(family, ())
    available = tuple(a.alias for a in candidates)
    listed = ", ".join(available)
    if alias is not None:
        found = next((a for a in candidates if a.alias == alias), None)
        if found is not None:
            return ResolvedAlias(found, "explicit")
        if family not in connections.by_family:
            families = ", ".join(connections.families()) or "none"
            return AliasProblem("connection.unknown-alias",
                                f"unknown connection @{family}.{alias}: no `{family}` family (families defined: {families})",
                                f"add `{family}:` with an alias `{alias}:` under `connections:` in {CONNECTIONS_FILENAME}",
                                family, alias, available)
        return AliasProblem("connection.unknown-alias", f"unknown connection @{family}.{alias} (aliases of {family}: {listed})",
                            f"use one of: {', '.join(f'@{family}.{a}' for a in available)}", family, alias, available)
    flagged = next((a for a in candidates if a.is_default), None)
    if flagged is not None:
        return ResolvedAlias(flagged, "default-flag")
    named = next((a for a in candidates if a.alias == "default"), None)
    if named is not None:
        return ResolvedAlias(named, "default-name")
    fix = (f"add `default: true` to one of the `{family}` aliases ({listed}), or write `connection: \"@{family}.<alias>\"`"
           if available else f"add a `{family}:` family with an alias marked `default: true` under `connections:` in {CONNECTIONS_FILENAME}")
    return AliasProblem("connection.no-default", f"no default connection for `{family}`: mark one alias `default: true`",
                        fix, family, None, available)


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
        text = read_limited(path).decode("utf-8", errors="replace")
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
        secret_keys = set(field_spellings(secret_keys))
        known = set(field_spellings(known)) | secret_keys | {o for n in known for o in STANDS_IN_FOR.get(n, ())}
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
            has = supplied_fields(alias.fields)
            missing = sorted(r for r in required if r not in has)
            if missing:
                out.append(Diagnostic(
                    "connection.missing-field",
                    f"alias `{family}.{alias.alias}` lacks {', '.join(f'`{m}`' for m in missing)}",
                    alias.range, Severity.WARNING,
                    fix=f"add {', '.join(f'`{m}:`' for m in missing)} under `{alias.alias}:`",
                    data={"missing": missing}, source=source))
    return out


def unset_variables(doc: Any, registry: "Registry", connections: ConnectionsFile,
                    lookup: Callable[[str], str | None]) -> list[Diagnostic]:
    """Warnings for the `${VAR}`s of the connections a pipeline uses that `lookup` leaves unset.

    Pure: `lookup` (environment + secrets file, see `secrets.SecretSources`) is passed in and only
    asked whether a name is set; a message names variables, never values. A placeholder with a
    fallback (`${VAR:-x}`) is never unset.
    """
    out: list[Diagnostic] = []
    for step in doc.steps():
        spec = registry.get(step.component) if step.component else None
        if spec is None or not spec.connection_fields:
            continue
        ref = step.config.get("connection") if isinstance(step.config, Mapping) else None
        parsed = parse_connection_ref(ref) if isinstance(ref, str) else (spec.family, None)
        alias = connections.get(*parsed) if parsed is not None else None
        if alias is None:
            continue  # an unknown alias is the validator's `connection.*` problem
        unset = [(key, m.group(1)) for key, value in alias.fields.items() if isinstance(value, str)
                 for m in ENV_REFERENCE.finditer(value) if m.group(2) is None and not lookup(m.group(1))]
        if not unset:
            continue
        names = list(dict.fromkeys(name for _, name in unset))
        where = step.path + ("config", "connection") if ref is not None else step.path + (step.component_key or "component",)
        listed = ", ".join(f"`${{{name}}}` ({key})" for key, name in unset)
        out.append(Diagnostic(
            "connection.env-unset",
            f"{alias.ref} uses {listed}, not set in the environment or the secrets file",
            doc.range_of(where), Severity.WARNING,
            fix=f"set {', '.join(names)} (export it, or put it in the secrets file)",
            data={"variables": names, "alias": alias.ref, "step": step.id}))
    return out
