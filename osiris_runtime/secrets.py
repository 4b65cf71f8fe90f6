"""Run-time secrets: where they come from, how a connection is resolved, and the one redactor.

Secrets live in three places only: the environment, an optional secrets file (dotenv or YAML) and
the drivers' open connections. `osiris_connections.yaml` holds `${VAR}` / `${VAR:-fallback}`
placeholders; `ConnectionResolver.resolve` reads the connections file and the secret sources again
on every call, so a driver that reconnects picks up a rotated password.

Everything that leaves the process (events, logs, error messages, artifacts, progress output) goes
through `Redactor.redact`. It hides values under secret keys (the registry's secret maps plus a
fallback list) and, anywhere in any text, the secret values resolved during this run (plus their
URL-encoded spelling and the password part of a `scheme://user:password@host` DSN).
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Collection, Iterable, Mapping
from urllib.parse import quote, unquote, urlsplit

from osiris_runtime.errors import ConfigError
from osiris_runtime.secret_keys import FALLBACK_SECRET_KEYS

if TYPE_CHECKING:
    import logging

    from osiris_runtime.oml.connections import ResolvedAlias
    from osiris_runtime.registry import Registry

MASK = "***"

# Secret values shorter than this are only hidden under secret keys, not searched for in free
# text: replacing every "ab" in a log would destroy the log and reveal the secret's length anyway.
MIN_TEXT_SECRET_LENGTH = 4

_URL_CREDENTIALS = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)(?P<secret>[^@\s/]+)(?P<tail>@)")


def _normalise_key(key: str) -> str:
    return key.strip().lower().replace("-", "_")


class Redactor:
    """The one redaction function of a run (thread-safe; learns secret values as they resolve).

    `redact(value)` returns a copy of `value` (str, mapping, list, tuple, scalars) with secrets
    replaced by `***`. It never raises and never returns a secret it has been told about.
    """

    def __init__(self, secret_keys: Iterable[str] = (), secret_values: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._keys = set(FALLBACK_SECRET_KEYS) | {_normalise_key(k) for k in secret_keys}
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add_values(secret_values)

    def add_keys(self, keys: Iterable[str]) -> None:
        with self._lock:
            self._keys |= {_normalise_key(k) for k in keys}
            self._pattern = None

    def add_values(self, values: Iterable[Any]) -> None:
        """Remember secret values (and their URL-encoded and DSN-password forms) to hide in text."""
        found: set[str] = set()
        for value in values:
            if value is None or isinstance(value, bool):
                continue
            text = str(value)
            found.update({text, quote(text, safe=""), unquote(text)})
            found.update(_dsn_passwords(text))
            found.update(_echoable_pieces(text))
        found = {v for v in found if len(v) >= MIN_TEXT_SECRET_LENGTH}
        with self._lock:
            if found - self._values:
                self._values |= found
                self._pattern = None

    def is_secret_key(self, key: str) -> bool:
        return _normalise_key(key) in self._keys

    def redact(self, value: Any) -> Any:
        """Hide every known secret in `value`; keys stay, secret values become `***`."""
        with self._lock:
            keys = frozenset(self._keys)
            pattern = self._compiled()
        return _redact(value, keys, pattern)

    def _compiled(self) -> re.Pattern[str] | None:
        # Called with the lock held. Longest first, so a password inside a DSN never leaves a tail.
        if self._pattern is None:
            parts = [re.escape(v) for v in sorted(self._values, key=len, reverse=True)]
            key_alternation = "|".join(re.escape(k) for k in sorted(self._keys, key=len, reverse=True))
            # `password=abc`, `"password": "abc"`, `password: abc` in free text.
            # Not MySQL's "(using password: YES)": a yes/no hint, never the password itself.
            keyed = (rf"""(?P<kh>\b(?:{key_alternation})\b["']?\s*[=:]\s*["']?)"""
                     r"""(?P<kv>(?<!\(using password: )[^\s"',;&)]+)""")
            alternatives = [keyed] + ([f"(?P<sv>{'|'.join(parts)})"] if parts else [])
            self._pattern = re.compile("|".join(alternatives), re.IGNORECASE)
        return self._pattern


def _dsn_passwords(text: str) -> set[str]:
    if "://" not in text:
        return set()
    try:
        password = urlsplit(text.strip()).password
    except ValueError:
        return set()
    return {password, unquote(password)} if password else set()


# In a key=value conninfo, a password runs up to the next `key=` (libpq echoes what follows a space
# in an unquoted one: `missing "=" after "tail"`).
_CONNINFO_PASSWORD = re.compile(r"""\bpassword\s*=\s*('(?:[^'\\]|\\.)*'|\S+(?:\s+(?![\w.-]+\s*=)\S+)*)""", re.IGNORECASE)


def _echoable_pieces(text: str) -> set[str]:
    """Parts of a secret that a driver may echo on their own: the password of a key=value conninfo
    and each word of it; each word of a secret with spaces (errors quote single tokens)."""
    if "://" not in text and _CONNINFO_PASSWORD.search(text):
        runs = [m.group(1) for m in _CONNINFO_PASSWORD.finditer(text)]
        runs = [r[1:-1] if len(r) >= 2 and r[0] == r[-1] == "'" else r for r in runs]
        return {piece for run in runs for piece in (run, *run.split())}
    words = text.split()
    return set(words) if len(words) > 1 else set()


def _redact_text(text: str, pattern: re.Pattern[str] | None) -> str:
    text = _URL_CREDENTIALS.sub(lambda m: f"{m['head']}{MASK}{m['tail']}", text)
    if pattern is None:
        return text

    def replace(match: re.Match[str]) -> str:
        if match.group("kh") is not None:
            return f"{match['kh']}{MASK}"
        return MASK

    return pattern.sub(replace, text)


def _redact(value: Any, keys: frozenset[str], pattern: re.Pattern[str] | None) -> Any:
    if isinstance(value, str):
        return _redact_text(value, pattern)
    if isinstance(value, Mapping):
        out: dict[Any, Any] = {}
        for k, v in value.items():
            if isinstance(k, str) and _normalise_key(k) in keys and v not in (None, "") and not isinstance(v, (Mapping, list, tuple)):
                out[k] = MASK
            else:
                out[k] = _redact(v, keys, pattern)
        return out
    if isinstance(value, (list, tuple)):
        return type(value)(_redact(v, keys, pattern) for v in value) if isinstance(value, list) else tuple(
            _redact(v, keys, pattern) for v in value
        )
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    return _redact_text(str(value), pattern)


class RedactingFilter:
    """A logging filter that sends every record's final message through the run's redactor.

    Not a `logging.Filter` subclass: logging takes any object with `filter(record)`, and this
    module is imported by the validator, which has no use for `logging` (about 5 ms to import).
    """

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor

    def filter(self, record: "logging.LogRecord") -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not leak its args
            message = str(record.msg)
        record.msg = self.redactor.redact(message)
        record.args = None
        if record.exc_info:
            import logging

            record.exc_text = self.redactor.redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


# --- secret sources ---------------------------------------------------------------------------------


def read_secrets_file(path: Path) -> dict[str, str]:
    """Variables of a secrets file: YAML (`.yaml`/`.yml`/`.json`, a flat mapping) or dotenv.

    A value is the exact text written: YAML scalars are never typed (`0123` stays `0123`, `true`
    stays `true`) and dotenv values are never interpolated (`${X}` in a password stays).
    """
    try:
        from osiris_runtime.bounded_read import read_limited

        text = read_limited(path).decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"secrets file not found: {path}", code="secret.file-missing", fix="check --secrets-file") from None
    except OSError as exc:
        raise ConfigError(f"cannot read secrets file {path}: {exc.strerror}", code="secret.file-unreadable") from None
    if path.suffix.lower() in {".yaml", ".yml", ".json"}:
        from ruamel.yaml import YAML
        from ruamel.yaml.error import YAMLError

        try:
            data = YAML(typ="base", pure=True).load(text)  # every scalar as its text
        except YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            # The YAML error text can quote the file's content: say where, never what.
            raise ConfigError(f"secrets file {path} is not valid YAML{where}", code="secret.file-invalid") from None
        if data is None:
            return {}
        if not isinstance(data, Mapping) or any(isinstance(v, (Mapping, list)) for v in data.values()):
            raise ConfigError(
                f"secrets file {path} must be a flat mapping of NAME: value",
                code="secret.file-invalid",
                fix="write one `NAME: value` per line",
            )
        return {str(k): "" if v is None else str(v) for k, v in data.items()}
    import io

    from dotenv import dotenv_values

    # A stream, so dotenv never goes looking for a `.env` file of its own.
    return {k: v for k, v in dotenv_values(stream=io.StringIO(text), interpolate=False).items() if v is not None}


def dotenv_line(name: str, value: str) -> str:
    """`NAME='value'` that `read_secrets_file` reads back as exactly `value` (single quotes: no
    escapes but `\\` and `\'`, no interpolation)."""
    return f"{name}='" + value.replace("\\", "\\\\").replace("'", "\\'") + "'\n"


@dataclass(frozen=True)
class SecretSources:
    """Where `${VAR}` values come from: the secrets file (wins) and the environment.

    `env` defaults to the live process environment; the secrets file is read again by each
    `lookup()` so that rotation is picked up.
    """

    secrets_file: Path | None = None
    env: Mapping[str, str] | None = None

    def lookup(self) -> Callable[[str], str | None]:
        env = os.environ if self.env is None else self.env
        file_values = read_secrets_file(self.secrets_file) if self.secrets_file is not None else {}

        def get(name: str) -> str | None:
            if name in file_values:
                return file_values[name]
            return env.get(name)

        return get


# --- connection resolution -------------------------------------------------------------------------


@dataclass(frozen=True)
class ConnectionTarget:
    """Which alias a step uses: `@family.alias`, or the family default when alias is None."""

    family: str
    alias: str | None = None

    @property
    def ref(self) -> str | None:
        """`@family.alias`, or None for the family default."""
        return f"@{self.family}.{self.alias}" if self.alias else None

    @property
    def label(self) -> str:
        return f"@{self.family}.{self.alias}" if self.alias else f"@{self.family} (default)"


@dataclass
class ConnectionResolver:
    """Resolves connection aliases at run time; every call re-reads the file and the secret sources.

    Every value of a secret field (per `secret_keys_for(family)` and the redactor's fallback list)
    is handed to the redactor before the resolved dict is returned.
    """

    connections_file: Path | None
    sources: SecretSources
    redactor: Redactor
    secret_keys_for: Callable[[str], Collection[str]] = lambda family: ()
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def resolve(self, target: ConnectionTarget) -> dict[str, Any]:
        """The target alias's fields with `${VAR}` substituted (see `resolve_alias` for which alias)."""
        return self.resolve_alias(target)[1]

    def resolve_alias(self, target: ConnectionTarget) -> tuple["ResolvedAlias", dict[str, Any]]:
        """The alias chosen for `target` (by `resolve_step_alias`) and its resolved fields."""
        from osiris_runtime.oml.connections import ResolvedAlias, load_connections, resolve_step_alias, substitute_env

        if self.connections_file is None:
            raise ConfigError(
                f"no connections file for {target.label}",
                code="connection.no-file",
                fix="create osiris_connections.yaml or pass --connections FILE",
            )
        with self._lock:  # one reader of the files at a time; drivers may reconnect concurrently
            connections = load_connections(self.connections_file)
            problems = [d for d in connections.diagnostics if d.is_error]
            if problems:
                raise ConfigError(f"connections file {self.connections_file}: {problems[0].message}",
                                  code=problems[0].code, diagnostics=problems, fix=problems[0].fix)
            chosen = resolve_step_alias(connections, target.family, target.ref)
            if not isinstance(chosen, ResolvedAlias):
                raise ConfigError(chosen.message, code=chosen.code, fix=f"{chosen.fix} ({self.connections_file})")
            alias = chosen.entry
            lookup = self.sources.lookup()
        secret_keys = {_normalise_key(k) for k in self.secret_keys_for(target.family)}
        self.redactor.add_keys(secret_keys)
        resolved: dict[str, Any] = {}
        secret_values: list[Any] = []
        for name, raw in alias.fields.items():
            if name == "default":
                continue
            value = raw
            if isinstance(raw, str):
                value, missing = substitute_env(raw, lookup)
                if missing:
                    raise ConfigError(
                        f"connection @{alias.family}.{alias.alias}: field `{name}` needs ${{{missing[0]}}}, which is not set",
                        code="secret.unresolved",
                        fix=f"export {missing[0]}=... or add it to the --secrets-file",
                    )
                value = _coerce_whole_placeholder(raw, value, secret=self._is_secret(name, secret_keys))
            if self._is_secret(name, secret_keys):
                secret_values.append(value)
            resolved[name] = value
        self.redactor.add_values(secret_values)
        return chosen, resolved

    def _is_secret(self, name: str, secret_keys: Collection[str]) -> bool:
        return _normalise_key(name) in secret_keys or self.redactor.is_secret_key(name)


_WHOLE_PLACEHOLDER = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}$")


def _coerce_whole_placeholder(raw: str, value: str, *, secret: bool) -> Any:
    """`port: ${DB_PORT}` becomes an int, as if written literally; secrets always stay strings."""
    if secret or not _WHOLE_PLACEHOLDER.match(raw.strip()):
        return value
    if re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    return value


def secret_keys_from_registry(registry: "Registry") -> Callable[[str], frozenset[str]]:
    """Secret field names per connection family, from the secret maps of that family's components."""

    def for_family(family: str) -> frozenset[str]:
        keys: set[str] = set()
        for spec in registry.specs():
            if spec.family == family:
                keys |= set(registry.get_secret_map(spec.name).secret_keys)
        return frozenset(keys)

    return for_family


def parse_target(ref: str | None, family: str) -> ConnectionTarget:
    """A manifest's `connection` (`@family.alias` or None) as a target in `family`."""
    if not ref:
        return ConnectionTarget(family, None)
    from osiris_runtime.oml.connections import parse_connection_ref, shown_ref

    parsed = parse_connection_ref(ref)
    if parsed is None:
        raise ConfigError(f"invalid connection reference {shown_ref(ref)}", code="connection.invalid-ref",
                          fix="write it as @family.alias")
    return ConnectionTarget(parsed[0], parsed[1])
