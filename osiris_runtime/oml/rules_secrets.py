"""Rules on secrets written into the pipeline: never allowed in secret fields, suspicious elsewhere.

Messages name the field, never the value.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any, Iterator
from urllib.parse import urlsplit

from osiris_runtime.errors import Severity
from osiris_runtime.oml.connections import CONNECTIONS_FILENAME, ENV_REFERENCE
from osiris_runtime.oml.rules import RuleContext, top_level_around_steps
from osiris_runtime.oml.rules_config import config_path
from osiris_runtime.registry import pointer_tokens
from osiris_runtime.secret_keys import FALLBACK_SECRET_KEYS

if TYPE_CHECKING:
    from osiris_runtime.oml.document import StepView

JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
SECRET_PAIR = re.compile(
    r"\b(password|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|secret[_-]?key)\s*=\s*(?!\$\{)[^\s;&'\"]{3,}",
    re.IGNORECASE,
)
# Keys that look secret but are not (a table's primary key, a URL that merely contains credentials is
# checked as a DSN instead).
NOT_SECRET_KEYS = frozenset({"primary_key", "upsert_keys", "url"})
MIN_SECRET_LENGTH = 4


def _is_literal(value: Any) -> bool:
    """A value that would end up in the compiled config as written (not an env reference)."""
    if value is None or isinstance(value, bool) or value == "":
        return False
    if isinstance(value, str) and ENV_REFERENCE.fullmatch(value.strip()):
        return False
    return isinstance(value, (str, int, float))


def _pointer_value(config: Any, pointer: str) -> tuple[bool, Any, tuple[Any, ...]]:
    tokens = pointer_tokens(pointer)
    node = config
    path: tuple[Any, ...] = ()
    for token in tokens:
        if isinstance(node, dict) and token in node:
            node = node[token]
            path += (token,)
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
            path += (int(token),)
        else:
            return False, None, ()
    return True, node, path


# Undeclared keys ending like this are secret names too (`api_token`, `db_password`).
SECRET_SUFFIXES = ("_password", "_secret", "_token", "_api_key", "_apikey")


def is_secret_name(key: Any) -> bool:
    name = str(key).strip().lower().replace("-", "_")
    return (name in FALLBACK_SECRET_KEYS or name.endswith(SECRET_SUFFIXES)) and name not in NOT_SECRET_KEYS


def secret_named_literals(key: Any, value: Any, path: tuple[Any, ...]) -> list[tuple[tuple[Any, ...], str]]:
    """(path, key) of every secret-named key holding a literal, at any depth of `value` (list items
    count under their key). For what reaches the compiled outputs without a spec saying what it is:
    undeclared config keys, `metadata`, param values."""
    found: list[tuple[tuple[Any, ...], str]] = []
    stack = [(key, value, path)]
    while stack:
        name, node, where = stack.pop()
        if isinstance(node, dict):
            stack.extend((k, v, where + (k,)) for k, v in reversed(list(node.items())))
        elif isinstance(node, list):
            stack.extend((name, v, where + (i,)) for i, v in reversed(list(enumerate(node))))
        elif name is not None and is_secret_name(name) and _is_literal(node):
            found.append((where, str(name)))
    return found


def outbound_secret(field: str) -> tuple[str, str]:
    """Message and fix of `secret.inline` for a secret-named key that would be copied out as written."""
    return (f"`{field}` holds a secret value; it would be copied into the compiled pipeline",
            f"remove it: a connection ({CONNECTIONS_FILENAME}, `${{ENV_VAR}}` values) supplies secrets")


def _report_outbound(ctx: RuleContext, path: tuple[Any, ...], field: str, flagged: set[tuple[Any, ...]]) -> None:
    flagged.add(path)
    message, fix = outbound_secret(field)
    ctx.report("secret.inline", message, path, fix=fix, data={"path": list(path), "field": field})


def _flagged(ctx: RuleContext) -> set[tuple[Any, ...]]:
    """Paths already reported as `secret.inline` (not reported again as suspicious)."""
    return ctx.scratch.setdefault("secrets.flagged", set())


def check_metadata_secrets(ctx: RuleContext) -> None:
    data = ctx.doc.data
    if isinstance(data, dict):
        for path, field in secret_named_literals("metadata", data.get("metadata"), ("metadata",)):
            _report_outbound(ctx, path, field, _flagged(ctx))


def check_step_secrets(ctx: RuleContext, index: int, raw: Any, step: "StepView | None") -> None:
    """Literal values in a step's secret fields, and secret-named keys its spec does not declare."""
    spec = ctx.spec(step.component) if step is not None else None
    if step is None or spec is None or step.config is None:
        return
    flagged = _flagged(ctx)
    for key, value in step.config.items():
        if key != "connection" and key not in spec.properties:  # undeclared: nothing says it is no secret
            for path, field in secret_named_literals(key, value, config_path(step) + (key,)):
                _report_outbound(ctx, path, field, flagged)
    for pointer in spec.secrets:
        if pointer.startswith("/resolved_connection"):
            continue
        found, value, rel = _pointer_value(step.config, pointer)
        if not found or not _is_literal(value):
            continue
        path = config_path(step) + rel
        flagged.add(path)
        field = "/".join(str(p) for p in rel)
        ctx.report(
            "secret.inline",
            f"`{field}` is a secret and must not be written in the pipeline",
            path,
            fix=f"move it to {CONNECTIONS_FILENAME} under `connections.{spec.family}.<alias>` "
            f"(as `${{ENV_VAR}}`) and set `connection: \"@{spec.family}.<alias>\"`",
            data={"field": field, "family": spec.family, "component": spec.name},
        )


# Values that look like secrets, anywhere in the document, in document order: the top-level keys
# before the steps, each step item, the keys after them.
def check_suspicious_before_steps(ctx: RuleContext) -> None:
    data = ctx.doc.data
    if not isinstance(data, dict):
        _report_suspicious(ctx, _strings(data))
        return
    before, _after = top_level_around_steps(data)
    for key, value in before:
        _report_suspicious(ctx, _strings(value, (key,), key))


def check_suspicious_in_step(ctx: RuleContext, index: int, raw: Any, step: "StepView | None") -> None:
    _report_suspicious(ctx, _strings(raw, ("steps", index), "steps"))


def check_suspicious_after_steps(ctx: RuleContext) -> None:
    _before, after = top_level_around_steps(ctx.doc.data)
    for key, value in after:
        _report_suspicious(ctx, _strings(value, (key,), key))


def _report_suspicious(ctx: RuleContext, found: Iterator[tuple[tuple[Any, ...], Any, Any]]) -> None:
    flagged = _flagged(ctx)
    for path, key, value in found:
        if path in flagged:
            continue
        reason = _suspicion(key, value)
        if reason:
            ctx.report(
                "secret.suspicious",
                f"`{key if key is not None else path[-1] if path else 'value'}` looks like it holds {reason}",
                path,
                severity=Severity.WARNING,
                fix=f"keep secrets in {CONNECTIONS_FILENAME} as `${{ENV_VAR}}` and refer to them with `connection: \"@family.alias\"`",
                data={"field": str(key) if key is not None else None, "reason": reason},
            )


def _strings(data: Any, path: tuple[Any, ...] = (), key: Any = None) -> Iterator[tuple[tuple[Any, ...], Any, Any]]:
    """(path, key, value) of every scalar under a mapping key or in a list, iteratively."""
    stack: list[tuple[tuple[Any, ...], Any, Any]] = [(path, key, data)]
    while stack:
        path, key, node = stack.pop()
        if isinstance(node, dict):
            stack.extend((path + (k,), k, v) for k, v in reversed(list(node.items())))
        elif isinstance(node, list):
            stack.extend((path + (i,), key, v) for i, v in reversed(list(enumerate(node))))
        elif isinstance(node, (str, int, float)) and not isinstance(node, bool):
            yield path, key, node


@functools.lru_cache(maxsize=65536, typed=True)  # pure; editors re-check the same (key, value) pairs on every keystroke
def _suspicion(key: Any, value: Any) -> str | None:
    if isinstance(key, str):
        normal = key.strip().lower().replace("-", "_")
        if normal in FALLBACK_SECRET_KEYS and normal not in NOT_SECRET_KEYS and _is_literal(value) and len(str(value)) >= MIN_SECRET_LENGTH:
            return "a secret written inline"
    if not isinstance(value, str):
        return None
    if "://" in value and "@" in value:
        try:
            password = urlsplit(value.strip()).password
        except ValueError:
            password = None
        if password and not ENV_REFERENCE.search(password) and not password.startswith("$"):
            return "a password inside a connection URL"
    if JWT.search(value):
        return "a token (JWT)"
    if SECRET_PAIR.search(value):
        return "a `key=value` secret"
    return None
