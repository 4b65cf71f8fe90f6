"""Connectivity checks: connect with one resolved alias and say what happened, as a category
(ok | dns | refused | timeout | auth | config | error | unsupported) and a one-line message. Used by
`osiris connections doctor` and by discovery, which reports a failed refresh the same way."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from osiris_runtime.errors import ConfigError, OsirisError


@dataclass(frozen=True)
class Probe:
    ok: bool
    category: str  # ok | dns | refused | timeout | auth | config | error | unsupported
    message: str
    latency_ms: float | None = None


# --- one check per family; `probe` turns what each raises into a Probe and never raises ------------

def probe(family: str, connection: Mapping[str, Any], timeout: float) -> Probe:
    checks: dict[str, Callable[[Mapping[str, Any], float], None]] = {
        "mysql": _check_mysql,
        "supabase": _check_supabase,
        "postgres": _check_postgres,
        "postgresql": _check_postgres,
    }
    check = checks.get(family)
    if check is None:
        return Probe(False, "unsupported", f"no connectivity check for the {family} family")
    started = time.perf_counter()
    try:
        check(connection, timeout)
    except OsirisError as exc:
        return Probe(False, "config", exc.message)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a category and a message
        return Probe(False, classify(exc), _one_line(exc))
    return Probe(True, "ok", "connected", round((time.perf_counter() - started) * 1000, 1))


def classify(exc: BaseException) -> str:
    """dns | refused | timeout | auth | error, from the exception type and the driver's words."""
    if isinstance(exc, socket.gaierror):
        return "dns"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, TimeoutError):
        return "timeout"
    text = str(exc).lower()
    rules = (
        ("dns", ("name or service not known", "failed to resolve host", "could not translate host name",
                 "nodename nor servname", "getaddrinfo", "temporary failure in name resolution")),
        ("refused", ("connection refused", "errno 111")),
        ("timeout", ("timed out", "timeout expired")),
        ("auth", ("access denied", "authentication failed", "password authentication", "invalid api key",
                  "jwt", "unauthorized", "401", "403", "no password supplied")),
    )
    for category, needles in rules:
        if any(n in text for n in needles):
            return category
    return "error"


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _check_mysql(connection: Mapping[str, Any], timeout: float) -> None:
    import pymysql

    conn = pymysql.connect(
        host=str(connection.get("host") or "localhost"),
        port=int(connection.get("port") or 3306),
        user=connection.get("user") or connection.get("username"),
        password=str(connection.get("password") or ""),
        database=connection.get("database"),
        connect_timeout=timeout,
    )
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
    finally:
        conn.close()


def _check_postgres(connection: Mapping[str, Any], timeout: float) -> None:
    import psycopg

    from osiris_runtime.drivers.postgres import conninfo_of

    with psycopg.connect(conninfo_of(connection), connect_timeout=max(1, round(timeout))) as conn:
        conn.execute("SELECT 1")


def _check_supabase(connection: Mapping[str, Any], timeout: float) -> None:
    """Direct Postgres when the alias has `dsn`/`host`, else an authenticated REST request."""
    from osiris_runtime.drivers.postgres import has_direct_connection

    if has_direct_connection(connection):
        _check_postgres(connection, timeout)
        return
    from osiris_runtime.oml.connections import field_value, supabase_rest_url

    url, key = supabase_rest_url(connection), field_value(connection, "key")  # or service_role_key / anon_key
    if not url or not key:
        raise ConfigError("the alias needs `url` (or `project_id`) and `key` (or `service_role_key`/`anon_key`, "
                          "or `dsn` for a direct connection)", code="connection.missing-field")
    response = get_rest_root(str(url), str(key), timeout)
    if response.status_code >= 400:
        raise RuntimeError(f"HTTP {response.status_code} from the REST endpoint")


def get_rest_root(url: str, key: str, timeout: float, headers: Mapping[str, str] | None = None) -> Any:
    """`GET <url>/rest/v1/` with the key (an httpx.Response). A failure to connect or a timeout
    raises what `classify` knows; a refused key (401/403) raises PermissionError."""
    import httpx

    try:
        response = httpx.get(f"{url.rstrip('/')}/rest/v1/", timeout=timeout,
                             headers={"apikey": key, "Authorization": f"Bearer {key}", **(headers or {})})
    except httpx.ConnectError as exc:
        raise ConnectionError(str(exc)) from None
    except httpx.TimeoutException:
        raise TimeoutError("timed out") from None
    if response.status_code in (401, 403):
        raise PermissionError(f"authentication failed (HTTP {response.status_code})")
    return response
