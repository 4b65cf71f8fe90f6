"""The component registry: find, validate and cache component specs.

Specs live in `<root>/<component>/spec.yaml` (or `spec.yml` / `spec.json`) under each entry of a
search path; later entries override earlier ones by component name. A spec that fails the spec
schema is reported as a `Diagnostic` (file, field, reason) and skipped while the others load.

A `Registry` is an ordinary object (no module-level instance): the CLI makes one per command, the
language server one per workspace folder. Every public method takes the registry's lock and
re-checks the spec files' mtimes, so an edited, added or removed spec is seen on the next call
(a CLI command's registry, `watch=False`, reads them once: the command ends before they change).
"""

from __future__ import annotations

import functools
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Literal, Mapping, Sequence

from osiris_runtime.errors import Diagnostic, Range, Severity, ValidationFailed
from osiris_runtime.sha256 import sha256

if TYPE_CHECKING:  # jsonschema costs ~70 ms to import; only pay for it when a spec must be checked
    from jsonschema.protocols import Validator

    from osiris_runtime.schema_gate import GateStore

# Built-in specs ship inside the package (a symlink to the repository's components/ folder in a
# source checkout, real files in a wheel).
BUILTIN_COMPONENTS_DIR = Path(__file__).resolve().parent / "builtin_components"
SPEC_SCHEMA_FILENAME = "spec.schema.json"
SPEC_FILENAMES = ("spec.yaml", "spec.yml", "spec.json")
# A spec may carry any number of examples; the LLM context (token economy) takes this many, in order.
CONTEXT_EXAMPLES = 2
COMPONENTS_PATH_ENV = "OSIRIS_COMPONENTS_PATH"
# Major versions of component specs this runtime understands; a spec outside them is refused.
SUPPORTED_SPEC_MAJORS = frozenset({0, 1})
# Generated docs live in the repository at this path (see `osiris components docs`).
DOCS_PATH_PREFIX = "docs/components/"

Override = Literal["allowed", "forbidden", "warning"]


@dataclass(frozen=True)
class ConnectionField:
    """A config field a connection alias can supply, and whether a step may set it itself."""

    name: str
    override: Override


@dataclass(frozen=True)
class SecretMap:
    """What the redactor must hide for one component.

    `secrets` are JSON Pointers of secret values (config-rooted, plus run-time pointers such as
    `/resolved_connection/password`); `redaction_extras` are sensitive but not secret (host, user).
    `secret_keys` are the field names at the root of the secret pointers (`password`, `key`).
    """

    component: str
    secrets: tuple[str, ...]
    redaction_extras: tuple[str, ...]
    mask: str = "***"
    strategy: str = "mask"

    @property
    def secret_keys(self) -> frozenset[str]:
        keys = set()
        for pointer in self.secrets:
            tokens = pointer_tokens(pointer)
            # `/resolved_connection/password` names the connection's `password` field.
            keys.add(tokens[1] if tokens[0] == "resolved_connection" and len(tokens) > 1 else tokens[0])
        return frozenset(keys)


@dataclass(frozen=True)
class ComponentSpec:
    name: str
    family: str
    version: str
    title: str | None
    description: str | None
    modes: tuple[str, ...]
    capabilities: Mapping[str, bool]
    config_schema: Mapping[str, Any]
    secrets: tuple[str, ...]
    connection_fields: Mapping[str, ConnectionField]
    config_aliases: Mapping[str, str]
    constraints: Mapping[str, Any]
    examples: tuple[Mapping[str, Any], ...]
    driver: str | None
    path: Path
    raw: Mapping[str, Any]
    fingerprint: str
    doc_url: str
    # Where the compiled fast checks of this spec's config schema are kept (see schema_gate).
    gates: "GateStore | None" = field(default=None, compare=False, repr=False)

    @property
    def major_version(self) -> int:
        return int(self.version.split(".", 1)[0])

    @property
    def properties(self) -> Mapping[str, Any]:
        return self.config_schema.get("properties", {})

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(self.config_schema.get("required", ()))

    @property
    def secret_roots(self) -> frozenset[str]:
        """Top-level config keys that hold secrets (`password`, `key`, `dsn`)."""
        return frozenset(_pointer_root(p) for p in self.secrets)

    @property
    def runnable(self) -> bool:
        return self.driver is not None


class UnknownComponent(ValidationFailed):
    """`Registry.require` of a name no spec has; carries the suggestions for quick fixes."""

    def __init__(self, name: str, suggestions: Sequence[str], fix: str) -> None:
        super().__init__(f"unknown component {name!r}", code="spec.unknown-component", fix=fix)
        self.name = name
        self.suggestions = tuple(suggestions)


# --- pure helpers -------------------------------------------------------------------------------


def pointer_tokens(pointer: str) -> list[str]:
    """The unescaped reference tokens of a JSON Pointer (`/a~1b/c` -> [`a/b`, `c`])."""
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer.lstrip("/").split("/")]


def _pointer_root(pointer: str) -> str:
    return pointer_tokens(pointer)[0]


def _connection_fields(raw: Mapping[str, Any], secrets: Iterable[str]) -> dict[str, ConnectionField]:
    declared = raw.get("x-connection-fields")
    if declared is None:
        # No declaration: the roots of the secret pointers come from the connection, and a step may not set them.
        return {root: ConnectionField(root, "forbidden") for root in dict.fromkeys(_pointer_root(p) for p in secrets)}
    fields: dict[str, ConnectionField] = {}
    for item in declared:
        if isinstance(item, str):
            fields[item] = ConnectionField(item, "allowed")
        else:
            fields[item["name"]] = ConnectionField(item["name"], item.get("override", "allowed"))
    return fields


def spec_from_raw(raw: Mapping[str, Any], path: Path, gates: "GateStore | None" = None,
                  fingerprint: str | None = None) -> ComponentSpec:
    """Build a `ComponentSpec` from a parsed spec that already passed the spec schema.

    `fingerprint`: the spec's, when known (the spec cache keeps it); computed from `raw` otherwise."""
    name = raw["name"]
    all_secrets = list(dict.fromkeys([*raw.get("secrets", ()), *raw.get("x-secret", ())]))
    config_secrets = tuple(p for p in all_secrets if _pointer_root(p) != "resolved_connection")
    runtime = raw.get("x-runtime") or {}
    return ComponentSpec(
        name=name,
        family=name.split(".", 1)[0],
        version=raw["version"],
        title=raw.get("title"),
        description=raw.get("description"),
        modes=tuple(raw["modes"]),
        capabilities=dict(raw["capabilities"]),
        config_schema=raw["configSchema"],
        secrets=config_secrets,
        connection_fields=_connection_fields(raw, config_secrets),
        config_aliases=dict(raw.get("x-deprecated-aliases", {})),
        constraints=raw.get("constraints", {}),
        examples=tuple(raw.get("examples", ())),
        driver=runtime.get("driver"),
        path=path,
        raw=raw,
        fingerprint=fingerprint or _spec_fingerprint(raw, path),
        doc_url=f"{DOCS_PATH_PREFIX}{name}.md",
        gates=gates,
    )


def _spec_fingerprint(raw: Mapping[str, Any], path: Path) -> str:
    from osiris_runtime.canonical import CanonicalError, fingerprint

    try:
        return fingerprint(raw)
    except CanonicalError:  # e.g. a NaN default: still a stable identity from the file's bytes
        return "sha256:" + sha256(path.read_bytes()).hexdigest()


def secret_map_of(spec: ComponentSpec) -> SecretMap:
    raw = spec.raw
    redaction = raw.get("redaction") or {}
    pointers = tuple(dict.fromkeys([*raw.get("secrets", ()), *raw.get("x-secret", ())]))
    return SecretMap(
        component=spec.name,
        secrets=pointers,
        redaction_extras=tuple(redaction.get("extras", ())),
        mask=redaction.get("mask", "***"),
        strategy=redaction.get("strategy", "mask"),
    )


def suggest_names(name: str, candidates: Iterable[str], limit: int = 3) -> list[str]:
    """Close matches for a misspelt name ("mysql.extrator" -> ["mysql.extractor"])."""
    import difflib  # only for a misspelt name

    pool = sorted(set(candidates))
    close = difflib.get_close_matches(name, pool, n=limit, cutoff=0.75)
    if not close and "." not in name:  # a bare family ("mysql") suggests its components
        close = [c for c in pool if c.split(".", 1)[0] == name][:limit]
    return close


def default_search_paths(workspace: Path | None = None, env: Mapping[str, str] | None = None) -> list[Path]:
    """Built-in specs, then `<workspace>/components`, then each entry of `OSIRIS_COMPONENTS_PATH`.

    `workspace` defaults to the current directory and `env` to the process environment; missing
    folders are kept (the registry skips them and notices when they appear).
    """
    env = os.environ if env is None else env
    workspace = Path.cwd() if workspace is None else workspace
    paths = [BUILTIN_COMPONENTS_DIR, workspace / "components"]
    paths += [Path(p) for p in env.get(COMPONENTS_PATH_ENV, "").split(os.pathsep) if p.strip()]
    return _dedupe_paths(paths)


def _dedupe_paths(paths: Iterable[Path]) -> list[Path]:
    # The repository's components/ and the built-in folder are the same directory in a checkout;
    # keep the last occurrence so the override order stays as written.
    by_real: dict[Path, Path] = {}
    for p in paths:
        real = p.resolve()
        by_real.pop(real, None)
        by_real[real] = p
    return list(by_real.values())


# --- loading one file ---------------------------------------------------------------------------


def read_spec_file(path: Path) -> Any:
    """Parse a spec file (YAML or JSON). Raises ValueError with a one-line reason."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"invalid JSON at line {exc.lineno}: {exc.msg}") from exc
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        return YAML(typ="safe", pure=False).load(text)
    except YAMLError as exc:
        raise ValueError(f"invalid YAML: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc


def load_spec_schema() -> dict[str, Any]:
    return json.loads((BUILTIN_COMPONENTS_DIR / SPEC_SCHEMA_FILENAME).read_text(encoding="utf-8"))


def spec_schema_validator() -> "Validator":
    from jsonschema import Draft202012Validator

    return Draft202012Validator(load_spec_schema(), format_checker=Draft202012Validator.FORMAT_CHECKER)


@dataclass(frozen=True)
class LoadedFile:
    """The outcome of loading one spec file: a spec, or the reasons it was refused (or both: warnings)."""

    path: Path
    stamp: tuple[int, int]  # (mtime_ns, size): the cache key
    spec: ComponentSpec | None
    problems: tuple[Diagnostic, ...] = ()


def _problem(path: Path, code: str, message: str, *, fix: str | None = None, pointer: str = "",
             severity: Severity = Severity.ERROR, rng: Range = Range(), data: Mapping[str, Any] | None = None) -> Diagnostic:
    payload = {"field": pointer} if pointer else {}
    payload.update(data or {})
    return Diagnostic(code=code, message=message, range=rng, severity=severity, fix=fix, data=payload, source=str(path))


def check_spec_data(raw: Any, path: Path, validator: "Validator") -> list[Diagnostic]:
    """Problems of a parsed spec against the spec schema, its version and its embedded configSchema."""
    from osiris_runtime.friendly import friendly_from_schema_error

    if not isinstance(raw, Mapping):
        return [_problem(path, "spec.invalid", "a spec must be a mapping at the top level")]
    problems: list[Diagnostic] = []
    for error in sorted(validator.iter_errors(raw), key=lambda e: (list(e.absolute_path), e.message)):
        friendly = friendly_from_schema_error(error, raw)
        pointer = "/" + "/".join(str(p) for p in friendly.path)
        problems.append(
            _problem(path, "spec.invalid", friendly.problem, fix=friendly.fix, pointer=pointer,
                     rng=_range_in_file(path, friendly.path))
        )
    if problems:
        return problems
    major = int(str(raw["version"]).split(".", 1)[0])
    if major not in SUPPORTED_SPEC_MAJORS:
        supported = ", ".join(f"{m}.x" for m in sorted(SUPPORTED_SPEC_MAJORS))
        problems.append(
            _problem(path, "spec.unsupported-version",
                     f"{raw['name']} {raw['version']}: this runtime supports spec versions {supported} only",
                     fix="upgrade osiris, or use a spec of a supported major version", pointer="/version",
                     rng=_range_in_file(path, ("version",)), data={"version": raw["version"]})
        )
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(raw["configSchema"])
    except SchemaError as exc:
        where = ("configSchema", *exc.absolute_path)
        problems.append(
            _problem(path, "spec.invalid-config-schema", f"configSchema is not a valid JSON Schema: {exc.message}",
                     pointer="/" + "/".join(str(p) for p in where), rng=_range_in_file(path, where))
        )
    return problems


def check_examples(spec: ComponentSpec) -> list[Diagnostic]:
    """Every example config must pass the config validator (as a step config of an OML file would)."""
    from osiris_runtime.friendly import validate_config

    problems: list[Diagnostic] = []
    for index, example in enumerate(spec.examples):
        config = example.get("config", {})
        for err in validate_config(spec, config, connection_provided="connection" in config):
            if err.severity is not Severity.ERROR:
                continue
            where = ("examples", index, "config", *err.path)
            problems.append(
                _problem(spec.path, "spec.invalid-example",
                         f"example {index + 1} ({example.get('title', '')!s}): {err.field}: {err.problem}",
                         fix=err.fix, pointer="/" + "/".join(str(p) for p in where), rng=_range_in_file(spec.path, where))
            )
    return problems


def _range_in_file(path: Path, where: Sequence[str | int]) -> Range:
    """Best-effort position of a spec field, for editors; only computed when there is a problem."""
    if path.suffix == ".json":
        return Range()
    try:
        from ruamel.yaml import YAML

        node: Any = YAML(typ="rt").load(path.read_text(encoding="utf-8"))
        line, col = 0, 0
        for key in where:
            lc = getattr(node, "lc", None)
            if lc is None:
                break
            try:
                if isinstance(key, int):
                    line, col = lc.item(key)
                else:
                    line, col = lc.key(key)
                node = node[key]
            except (KeyError, IndexError, TypeError):
                break
        return Range.at(line, col)
    except Exception:  # noqa: BLE001 - a position is a nicety; never fail a report over it
        return Range()


def load_spec_file(path: Path, get_validator: Callable[[], "Validator"], cache: "SpecCache | None" = None) -> LoadedFile:
    """Read, check and build one spec; `cache` remembers specs that passed, keyed by content."""
    stat = path.stat()
    stamp = (stat.st_mtime_ns, stat.st_size)
    try:
        content = path.read_bytes()
        digest = cache.digest(content) if cache else ""
        entry = cache.get(digest) if cache else None
        checked = entry is not None
        raw, known_fingerprint = entry if entry is not None else (read_spec_file(path), None)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return LoadedFile(path, stamp, None, (_problem(path, "spec.unreadable", f"cannot read spec: {exc}"),))
    problems = [] if checked else check_spec_data(raw, path, get_validator())
    if any(p.is_error for p in problems):
        return LoadedFile(path, stamp, None, tuple(problems))
    spec = spec_from_raw(raw, path, cache.gates if cache else None, known_fingerprint)
    if cache and not checked:
        cache.put(digest, raw, spec.fingerprint)
    if len(spec.examples) > CONTEXT_EXAMPLES:
        problems.append(
            _problem(path, "spec.many-examples",
                     f"{len(spec.examples)} examples: the LLM context shows only the first {CONTEXT_EXAMPLES}",
                     severity=Severity.WARNING, fix=f"put the {CONTEXT_EXAMPLES} most telling examples first",
                     pointer=f"/examples/{CONTEXT_EXAMPLES}", rng=_range_in_file(path, ("examples", CONTEXT_EXAMPLES)),
                     data={"count": len(spec.examples)})
        )
    if spec.name != path.parent.name:
        problems.append(
            _problem(path, "spec.name-mismatch", f"spec name {spec.name!r} differs from its folder {path.parent.name!r}",
                     severity=Severity.WARNING, fix=f"rename the folder to {spec.name}", pointer="/name",
                     rng=_range_in_file(path, ("name",)))
        )
    return LoadedFile(path, stamp, spec, tuple(problems))


# Part of every cache key: entries of an older layout simply miss.
_CACHE_ENTRY_FORMAT = "spec+fingerprint/1"


@functools.lru_cache(maxsize=1)
def _digest_prefix() -> Any:
    """What every cache key starts with: the supported majors and the spec schema (read once)."""
    h = sha256()
    h.update(f"{_CACHE_ENTRY_FORMAT}\0{sorted(SUPPORTED_SPEC_MAJORS)!r}".encode())
    h.update((BUILTIN_COMPONENTS_DIR / SPEC_SCHEMA_FILENAME).read_bytes())
    h.update(b"\0")
    return h


@dataclass(frozen=True)
class SpecCache:
    """Parsed specs that already passed the checks, with their fingerprints, on disk, keyed by a
    hash of their bytes.

    Lets a short-lived CLI skip YAML parsing, JSON Schema validation (and their imports) and
    fingerprinting for unchanged specs. The key covers the spec schema and the supported majors
    too, so a runtime upgrade re-checks everything. Unwritable or corrupt cache files are ignored. `directory` None:
    read-only, only the shipped entries of the built-in specs (`make install` writes them into
    `SHIPPED_SPEC_CACHE`; a changed built-in spec simply misses and is checked as usual).
    """

    directory: Path | None
    shipped: Path | None = None

    @functools.cached_property
    def gates(self) -> "GateStore":
        """The compiled config checks of these specs, in `gates/` beside them."""
        from osiris_runtime.schema_gate import GateStore

        return GateStore(self.directory / "gates" if self.directory else None, self.shipped / "gates" if self.shipped else None)

    def digest(self, content: bytes) -> str:
        h = _digest_prefix().copy()
        h.update(content)
        return h.hexdigest()

    def get(self, digest: str) -> tuple[Any, str] | None:
        """(parsed spec, fingerprint) of a spec known to pass, or None."""
        entry = self._read(self.directory, digest)
        if entry is None:
            entry = self._read(self.shipped, digest)
            if entry is not None:
                self.put(digest, *entry)  # the user's cache holds every spec known to pass, shipped or not
        return entry

    @staticmethod
    def _read(directory: Path | None, digest: str) -> tuple[Any, str] | None:
        if directory is None:
            return None
        try:
            entry = json.loads((directory / f"{digest}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(entry, dict) or not isinstance(entry.get("fingerprint"), str) or "spec" not in entry:
            return None
        return entry["spec"], entry["fingerprint"]

    def put(self, digest: str, raw: Any, fingerprint: str) -> None:
        if self.directory is None:
            return
        from osiris_runtime.atomic_files import write_atomically

        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            write_atomically(self.directory / f"{digest}.json",
                             json.dumps({"spec": raw, "fingerprint": fingerprint}, default=str))
        except OSError:
            pass


# Checked built-in specs, written at install time (`python -m osiris_runtime.registry`).
SHIPPED_SPEC_CACHE = BUILTIN_COMPONENTS_DIR / ".spec-cache"


def write_shipped_spec_cache() -> list[Diagnostic]:
    """Check every built-in spec once and keep those that pass in `SHIPPED_SPEC_CACHE`, with the
    compiled gates of their config schemas (as written, and with every connection field supplied)."""
    from osiris_runtime.friendly import validate_config

    registry = Registry([BUILTIN_COMPONENTS_DIR], cache_dir=SHIPPED_SPEC_CACHE)
    for spec in registry.specs():
        validate_config(spec, {})
        if spec.connection_fields:
            validate_config(spec, {}, connection_provided=True)
    return registry.problems()


def default_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """`$OSIRIS_CACHE_DIR`, else `$XDG_CACHE_HOME/osiris`, else `~/.cache/osiris`; specs go in `specs/`."""
    from osiris_runtime.cache_root import cache_root

    return Path(cache_root(env)) / "specs"


def registry_for_cli(env: Mapping[str, str] | None = None) -> "Registry":
    """The registry every CLI command uses: the default search path and the on-disk spec cache."""
    return Registry(default_search_paths(env=env), cache_dir=default_cache_dir(env), watch=False)


def find_spec_files(roots: Sequence[Path]) -> list[Path]:
    """`<root>/<dir>/spec.yaml|yml|json` for every root in order, folders sorted by name."""
    found: list[Path] = []
    for root in roots:
        try:
            entries = sorted(os.scandir(root), key=lambda e: e.name)
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        for entry in entries:
            if not entry.is_dir() or entry.name.startswith("."):
                continue
            for filename in SPEC_FILENAMES:
                candidate = Path(entry.path) / filename
                if candidate.is_file():
                    found.append(candidate)
                    break
    return found


# --- the registry -------------------------------------------------------------------------------


class _State:
    """Everything a registry caches; only touched with the registry's lock held.

    A plain class: a dataclass costs about 1 ms to define, on every CLI start."""

    __slots__ = ("files", "by_name", "problems", "validator", "loaded")

    def __init__(self) -> None:
        self.files: dict[Path, LoadedFile] = {}
        self.by_name: dict[str, ComponentSpec] = {}
        self.problems: list[Diagnostic] = []
        self.validator: "Validator | None" = None
        self.loaded = False  # the search path has been read at least once


class Registry:
    """Validated component specs from a search path; thread-safe, re-reads changed files lazily."""

    def __init__(self, search_paths: Sequence[Path] | None = None, *, cache_dir: Path | None = None,
                 watch: bool = True) -> None:
        """`cache_dir`: where to remember specs that passed their checks (see `SpecCache`); None: no disk cache.

        `watch`: re-check the spec files on every call (an editor's registry); False: read them once,
        for a command that ends before a spec could change (a 20-step validate asks ~25 times).
        """
        self.search_paths: tuple[Path, ...] = tuple(default_search_paths() if search_paths is None else search_paths)
        self._watch = watch
        self._lock = threading.RLock()
        self._state = _State()
        self._cache = SpecCache(cache_dir, SHIPPED_SPEC_CACHE)

    def _validator(self) -> "Validator":
        # Built on first need and kept: most refreshes re-check nothing.
        if self._state.validator is None:
            self._state.validator = spec_schema_validator()
        return self._state.validator

    # Public reads: each refreshes from disk first (a few stat calls when nothing changed).

    def get(self, name: str) -> ComponentSpec | None:
        with self._lock:
            return self._refresh().by_name.get(name)

    def require(self, name: str) -> ComponentSpec:
        """The spec of `name`, or `ValidationFailed` (exit 2) with did-you-mean suggestions."""
        spec = self.get(name)
        if spec is not None:
            return spec
        suggestions = self.suggest(name)
        fix = "did you mean " + " or ".join(f"`{s}`" for s in suggestions) + "?" if suggestions else (
            "run `osiris components list` to see the available components")
        raise UnknownComponent(name, suggestions, fix)

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._refresh().by_name)

    def specs(self) -> list[ComponentSpec]:
        with self._lock:
            state = self._refresh()
            return [state.by_name[n] for n in sorted(state.by_name)]

    def problems(self) -> list[Diagnostic]:
        """Invalid or refused spec files (and warnings about loaded ones), with file, field and reason."""
        with self._lock:
            return list(self._refresh().problems)

    def suggest(self, name: str) -> list[str]:
        return suggest_names(name, self.names())

    def get_secret_map(self, name: str) -> SecretMap:
        return secret_map_of(self.require(name))

    def spec_files(self) -> list[Path]:
        """The spec files in use, one per component (after overrides)."""
        return [spec.path for spec in self.specs()]

    # Internals.

    def _refresh(self) -> _State:
        state = self._state
        if state.loaded and not self._watch:
            return state
        paths = find_spec_files(self.search_paths)
        changed = set(state.files) != set(paths)
        fresh: dict[Path, LoadedFile] = {}
        for path in paths:
            try:
                stat = path.stat()
            except FileNotFoundError:  # removed between listing and stat
                changed = True
                continue
            cached = state.files.get(path)
            if cached is not None and cached.stamp == (stat.st_mtime_ns, stat.st_size):
                fresh[path] = cached
                continue
            fresh[path] = load_spec_file(path, self._validator, self._cache)
            changed = True
        if changed or not state.files:
            state.files = fresh
            state.by_name, state.problems = _index(fresh[p] for p in paths if p in fresh)
        state.loaded = True
        return state


def _index(loaded: Iterable[LoadedFile]) -> tuple[dict[str, ComponentSpec], list[Diagnostic]]:
    """Name -> spec with later files overriding earlier ones, plus every file's problems."""
    by_name: dict[str, ComponentSpec] = {}
    problems: list[Diagnostic] = []
    for item in loaded:
        problems.extend(item.problems)
        if item.spec is not None:
            by_name[item.spec.name] = item.spec
    return by_name, problems


if __name__ == "__main__":
    for problem in write_shipped_spec_cache():
        print(problem.format())
