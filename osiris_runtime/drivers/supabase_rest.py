"""Supabase over its REST API (PostgREST, through supabase-py): the path without a direct Postgres connection.

`osiris_runtime.drivers.supabase` calls these two functions when the resolved connection has no
direct Postgres fields (`dsn` or `host`), only `url` (or `project_id`) and `key`:

- `extract_rest(ctx) -> Iterator[Batch]` (supabase.extractor). Reads `table` (+ `schema`, `columns`,
  `filter`, `order`, `limit`, `batch_size`) page by page with `range()` until a page comes back
  empty or the row count reported on the first page is reached, so it reads every row, not only
  the first 1,000 a Supabase project serves per request. The order is always total: the configured
  `order`, then the primary key (or, without one, every orderable column) as a tie-breaker, so pages
  neither overlap nor skip rows while the table is not being written. Column types come from the
  OpenAPI description PostgREST serves at `GET /rest/v1/` (formats are Postgres type names); when
  it is not available (newer Supabase keys may hide it) they are inferred from the JSON values.
  `numeric` columns are selected as `col::text` so that no digit is lost to a JSON float.
- `write_rest(ctx, batches) -> None` (supabase.writer). `write_mode: append` inserts, `upsert`
  upserts with `on_conflict=<primary_key>`, each in requests of `batch_size` rows with
  `Prefer: return=minimal`. Each request is one statement on the server, so it is all or nothing;
  but REST has no transaction that spans requests, so a failure after some requests leaves those
  rows written. Re-running an upsert converges to the same table (it is idempotent); an append
  re-run writes its rows again. `write_mode: replace` and `create_if_missing` (for a missing table)
  need the direct connection and are a `ConfigError` over REST, never a partial or silent write:
  a replace cannot be made atomic over REST, and PostgREST cannot run DDL.

Transient failures (HTTP 5xx, 429, dropped or refused connections, timeouts) are retried `retries`
times with exponential backoff and jitter, honouring `Retry-After`; 4xx answers are not retried.
A retried append whose earlier attempt may have been committed (the connection dropped after the
request was sent, a gateway 502/504) is sent as `resolution=ignore-duplicates` on the primary key
when one is configured, so it cannot duplicate rows; without a primary key it is sent again as is
and a `rest.retry` event says that duplicates are possible. Every reconnect calls
`ctx.connection()` again, so a rotated key is picked up. The key never appears in an error, an
event or a log line: messages are built from the PostgREST error fields and scrubbed.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time as time_of_day, timedelta
from decimal import Decimal
from typing import Any, Callable, Iterator, Mapping, Sequence, TypeVar
from urllib.parse import parse_qsl
from uuid import UUID

import httpx

from osiris_runtime.drivers.base import StepContext
from osiris_runtime.drivers.sql_identifiers import split_qualified, validate_identifier
from osiris_runtime.drivers.step_options import selected_columns
from osiris_runtime.errors import ConfigError, RunFailed
from osiris_runtime.oml.connections import field_value, supabase_rest_url
from osiris_runtime.runner.batches import Batch, Column, Schema
from osiris_runtime.secrets import MASK, Redactor

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 1000  # Supabase's default "Max rows" per request
DEFAULT_WRITE_BATCH = 500
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_RETRIES = 3
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 30.0
_FILTER_OPERATOR = re.compile(
    r"^(not\.)?(eq|neq|gt|gte|lt|lte|like|ilike|match|imatch|is|isdistinct|in|cs|cd|ov|sl|sr|nxl|nxr|adj|fts|plfts|phfts|wfts)\.",
)
_JSON_NATIVE = frozenset({int, str, bool, type(None)})
_PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_UNORDERABLE_FORMATS = {"json", "xml", "point", "line", "lseg", "box", "path", "polygon", "circle"}
_SECRET_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[^\s'\",}]+"),
    re.compile(r"(?i)(apikey['\"]?\s*[:=]\s*['\"]?)[^\s'\",}&]+"),
    re.compile(r"()eyJ[\w-]+\.[\w-]+\.[\w-]+"),  # JWTs (legacy anon / service_role keys)
    re.compile(r"()sb_(?:secret|publishable)_[\w-]+"),
)

# Postgres type names (as PostgREST's OpenAPI `format` spells them) -> logical batch types.
_LOGICAL_TYPE_OF_FORMAT = {
    "smallint": "int16",
    "integer": "int32",
    "bigint": "int64",
    "real": "float32",
    "double precision": "float64",
    "numeric": "decimal",
    "boolean": "bool",
    "bytea": "bytes",
    "date": "date",
    "time without time zone": "time",
    "time with time zone": "time",
    "timestamp without time zone": "datetime",
    "timestamp with time zone": "timestamp",
    "json": "json",
    "jsonb": "json",
}


# ---------------------------------------------------------------------------------------------
# Settings


@dataclass(frozen=True)
class RestEndpoint:
    """Where and how to call PostgREST; built from `ctx.connection()` on every (re)connect."""

    url: str
    key: str = field(repr=False)  # never in a repr, a log line or a traceback
    schema: str
    timeout_s: float

    @classmethod
    def resolve(cls, ctx: StepContext) -> "RestEndpoint":
        conn = ctx.connection()
        url = supabase_rest_url(conn, ctx.config)
        key = field_value(conn, "key")  # `key`, `service_role_key` or `anon_key`
        if not url or not key:
            missing = " and ".join(name for name, value in (("url", url), ("key", key)) if not value)
            raise ConfigError(
                f"the Supabase connection has no {missing}",
                code="connection.missing-field",
                fix="give the connection `url` (or `project_id`) and `key`, or a direct `dsn`/`host`",
            )
        if not re.match(r"^https?://[^\s/]+", str(url)):
            raise ConfigError(
                "the Supabase url must start with http:// or https://",
                code="connection.invalid-field",
            )
        return cls(
            url=str(url).rstrip("/"),
            key=str(key),
            schema=_schema_and_table(ctx)[0],
            timeout_s=float(ctx.config.get("timeout") or DEFAULT_TIMEOUT_S),
        )


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = DEFAULT_RETRIES
    base_s: float = BACKOFF_BASE_S
    cap_s: float = BACKOFF_CAP_S

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Exponential backoff with jitter (50-100% of the step), or the server's Retry-After."""
        step = min(self.cap_s, self.base_s * (2**attempt))
        jittered = step * random.uniform(0.5, 1.0)
        if retry_after is not None:
            return min(self.cap_s, max(retry_after, jittered))
        return jittered


@dataclass(frozen=True)
class TableColumn:
    name: str
    pg_type: str  # the OpenAPI `format`, a Postgres type name; "" when inferred from JSON
    logical_type: str
    nullable: bool
    primary_key: bool
    source_type: str | None


@dataclass(frozen=True)
class OrderTerm:
    column: str
    descending: bool = False
    nulls_first: bool | None = None


# ---------------------------------------------------------------------------------------------
# Errors: classification and scrubbing


@dataclass(frozen=True)
class RestFailure:
    """One failed call, secret-free, with what the retry loop needs to decide."""

    message: str
    status: int | None  # HTTP status, None when no response arrived
    code: str | None
    transient: bool
    maybe_committed: bool  # the server may have applied the request although we saw a failure
    retry_after: float | None = None


def scrub(text: str, secrets: Sequence[str]) -> str:
    """`text` through the run's redactor with the connection's secrets, then minus any token-shaped string.

    The runner redacts again whatever leaves the process; this pass exists because httpx and
    supabase-py messages can carry URLs, headers and server-echoed input that the driver sees first.
    """
    text = Redactor(secret_values=[s for s in secrets if s]).redact(text)
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return text


def _retry_after(response: httpx.Response | None) -> float | None:
    if response is None:
        return None
    raw = response.headers.get("retry-after")
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None


def classify(exc: BaseException, response: httpx.Response | None, secrets: Sequence[str]) -> RestFailure:
    """Turn an exception from supabase-py/httpx into a scrubbed `RestFailure`."""
    from postgrest.exceptions import APIError

    if isinstance(exc, APIError):
        status = response.status_code if response is not None and not response.is_success else None
        parts = [p for p in (exc.message, f"details: {exc.details}" if exc.details else None, f"hint: {exc.hint}" if exc.hint else None) if p]
        code = exc.code
        if status is None and code and code.isdigit():  # a non-JSON error page: the code is the status
            status = int(code)
        transient = status is not None and (status >= 500 or status == 429)
        return RestFailure(
            message=scrub("; ".join(parts) or "request failed", secrets),
            status=status,
            code=scrub(code, secrets) if code else None,
            transient=transient,
            maybe_committed=status in (502, 504),
            retry_after=_retry_after(response),
        )
    if isinstance(exc, httpx.HTTPStatusError):  # a plain httpx call (the OpenAPI description)
        status = exc.response.status_code
        return RestFailure(f"HTTP {status} {exc.response.reason_phrase}", status, None, status >= 500 or status == 429,
                           status in (502, 504), _retry_after(exc.response))
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
        return RestFailure(f"cannot connect ({type(exc).__name__})", None, None, True, False)
    if isinstance(exc, httpx.TransportError):  # reset, dropped, read/write timeout: sent, outcome unknown
        detail = scrub(str(exc), secrets)
        return RestFailure(f"connection failed ({type(exc).__name__}{': ' + detail if detail else ''})", None, None, True, True)
    return RestFailure(scrub(f"{type(exc).__name__}: {exc}", secrets), None, None, False, False)


# ---------------------------------------------------------------------------------------------
# The session: a supabase-py client plus retries and reconnects


class RestSession:
    """A supabase-py client for one step; `call` runs a request with retries, reconnecting on failure."""

    def __init__(self, ctx: StepContext, policy: RetryPolicy):
        self._ctx = ctx
        self._policy = policy
        self._last_response: httpx.Response | None = None
        self._http: httpx.Client | None = None
        self.endpoint = RestEndpoint.resolve(ctx)
        self.client = self._connect()
        self.requests = 0
        self.retries = 0

    def _remember(self, response: httpx.Response) -> None:
        self._last_response = response

    def _connect(self) -> Any:
        from supabase import ClientOptions, create_client

        self.close()
        self._http = httpx.Client(
            timeout=self.endpoint.timeout_s,
            follow_redirects=True,
            event_hooks={"response": [self._remember]},
        )
        options = ClientOptions(
            schema=self.endpoint.schema,
            postgrest_client_timeout=self.endpoint.timeout_s,
            postgrest_client_retry=False,  # retries are ours: writes too, with jitter and Retry-After
            httpx_client=self._http,
            auto_refresh_token=False,
            persist_session=False,
        )
        try:
            return create_client(self.endpoint.url, self.endpoint.key, options)
        except Exception as exc:  # SupabaseException: bad url or key shape
            raise ConfigError(
                f"cannot create the Supabase client: {scrub(str(exc), [self.endpoint.key])}",
                code="connection.invalid-field",
            ) from None

    def reconnect(self) -> None:
        self.endpoint = RestEndpoint.resolve(self._ctx)
        self.client = self._connect()

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def call(self, what: str, request: Callable[[Any, int], T]) -> T:
        """Run `request(client, maybe_committed)`; retry transient failures; raise RunFailed otherwise.

        `maybe_committed` tells a retry that an earlier attempt may have been applied by the server.
        """
        attempt = 0
        maybe_committed = False
        while True:
            self._last_response = None
            self.requests += 1
            try:
                return request(self.client, maybe_committed)
            except Exception as exc:
                failure = classify(exc, self._last_response, [self.endpoint.key])
            maybe_committed = maybe_committed or failure.maybe_committed
            if not failure.transient or attempt >= self._policy.retries:
                raise _run_failed(what, failure, attempt)
            delay = self._policy.delay(attempt, failure.retry_after)
            self._ctx.emit(
                "rest.retry",
                request=what,
                attempt=attempt + 1,
                delay_s=round(delay, 3),
                status=failure.status,
                reason=failure.message,
                maybe_committed=failure.maybe_committed,
            )
            self.retries += 1
            if self._ctx.cancel_event.wait(delay):  # a cancelled run does not sit out a long Retry-After
                raise RunFailed(f"cancelled while waiting to retry {what}", code="run.cancelled")
            attempt += 1
            if failure.status is None:  # the connection broke: reconnect with fresh credentials
                self.reconnect()

    def openapi(self) -> Mapping[str, Any] | None:
        """PostgREST's OpenAPI description of the schema, or None when the server does not serve it."""

        def fetch(client: Any, maybe_committed: bool) -> Mapping[str, Any] | None:
            assert self._http is not None
            response = self._http.get(
                f"{self.endpoint.url}/rest/v1/",
                headers={
                    "apikey": self.endpoint.key,
                    "Authorization": f"Bearer {self.endpoint.key}",
                    "Accept-Profile": self.endpoint.schema,
                    "Accept": "application/openapi+json, application/json",
                },
            )
            if response.status_code >= 500 or response.status_code == 429:
                response.raise_for_status()
            if not response.is_success:
                return None
            try:
                body = response.json()
            except ValueError:
                return None
            return body if isinstance(body, Mapping) else None

        try:
            return self.call("GET /", fetch)
        except RestRequestFailed:
            return None

    def __enter__(self) -> "RestSession":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
        self._ctx.extra_metrics["rest_requests"] = self._ctx.extra_metrics.get("rest_requests", 0) + self.requests
        self._ctx.extra_metrics["rest_retries"] = self._ctx.extra_metrics.get("rest_retries", 0) + self.retries


class RestRequestFailed(RunFailed):
    """A REST call that failed for good (not transient, or out of retries); `failure` says how."""

    def __init__(self, message: str, failure: RestFailure):
        super().__init__(message, code="run.supabase-rest-failed")
        self.failure = failure


def _run_failed(what: str, failure: RestFailure, attempt: int) -> RestRequestFailed:
    status = f"HTTP {failure.status}" if failure.status else "no response"
    code = f" [{failure.code}]" if failure.code and failure.code != str(failure.status) else ""
    tries = f" after {attempt + 1} attempts" if attempt else ""
    return RestRequestFailed(f"Supabase REST {what} failed{tries} ({status}){code}: {failure.message}", failure)


# ---------------------------------------------------------------------------------------------
# Table description


def _identifier(name: Any, what: str) -> str:
    """A user-given name, checked like the direct path does: it goes into a PostgREST path or query string."""
    return validate_identifier(name, what=what, dialect="postgres")


def describe_table(openapi: Mapping[str, Any] | None, table: str) -> list[TableColumn] | None:
    """The table's columns from PostgREST's OpenAPI description, in table order; None if absent."""
    if not openapi:
        return None
    definition = (openapi.get("definitions") or {}).get(table)
    if not isinstance(definition, Mapping) or not isinstance(definition.get("properties"), Mapping):
        return None
    required = set(definition.get("required") or ())
    columns = []
    for name, prop in definition["properties"].items():
        pg_type = str(prop.get("format") or "")
        max_length = prop.get("maxLength")
        columns.append(
            TableColumn(
                name=name,
                pg_type=pg_type,
                logical_type=_logical_type(pg_type, prop.get("type")),
                nullable=name not in required,
                primary_key="<pk/>" in str(prop.get("description") or ""),
                source_type=f"{pg_type}({max_length})" if max_length else (pg_type or None),
            )
        )
    return columns


def _logical_type(pg_type: str, json_type: Any) -> str:
    if pg_type in _LOGICAL_TYPE_OF_FORMAT:
        return _LOGICAL_TYPE_OF_FORMAT[pg_type]
    if pg_type.endswith("[]") or json_type == "array":
        return "json"
    return "string"  # text, varchar, uuid, enums, interval, ...: PostgREST sends them as strings


def _inferred_columns(rows: Sequence[Mapping[str, Any]], names: Sequence[str]) -> list[TableColumn]:
    """Column types guessed from JSON values when there is no OpenAPI description."""
    columns = []
    for name in names:
        sample = next((row.get(name) for row in rows if row.get(name) is not None), None)
        if isinstance(sample, bool):
            logical = "bool"
        elif isinstance(sample, int):
            logical = "int64"
        elif isinstance(sample, float):
            logical = "float64"
        elif isinstance(sample, (dict, list)):
            logical = "json"
        else:
            logical = "string"
        columns.append(TableColumn(name, "", logical, True, False, None))
    return columns


# ---------------------------------------------------------------------------------------------
# Reading


def _from_json(column: TableColumn) -> Callable[[Any], Any]:
    """A converter from the JSON value PostgREST sends to the Python value a Batch carries."""
    kind = column.logical_type
    if kind in ("int16", "int32", "int64"):
        return int
    if kind in ("float32", "float64"):
        return float  # also takes "NaN", "Infinity"
    if kind == "decimal":
        return lambda v: Decimal(v) if isinstance(v, str) else Decimal(repr(v))
    if kind == "bool":
        return bool
    if kind == "bytes":
        return lambda v: bytes.fromhex(v[2:]) if isinstance(v, str) and v.startswith("\\x") else str(v).encode()
    if kind == "date":
        return lambda v: _parse_temporal(date.fromisoformat, v)
    if kind in ("datetime", "timestamp"):
        return lambda v: _parse_temporal(datetime.fromisoformat, v)
    if kind == "time":
        return lambda v: _parse_temporal(time_of_day.fromisoformat, v)
    if kind == "json":
        return lambda v: json.dumps(v, ensure_ascii=False, separators=(",", ":"))
    return lambda v: v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, separators=(",", ":"))


def _parse_temporal(parse: Callable[[str], Any], value: Any) -> Any:
    try:
        return parse(value)
    except (TypeError, ValueError):
        return value  # 'infinity', BC dates: keep Postgres' spelling rather than fail


def _order_terms(raw: Any) -> list[OrderTerm]:
    """`order` as `"a.desc,b"`, `"a desc"`, or a list of those."""
    if raw is None or raw == "":
        return []
    items = raw if isinstance(raw, (list, tuple)) else str(raw).split(",")
    terms = []
    for item in items:
        words = [w for w in re.split(r"[.\s]+", str(item).strip()) if w]
        if not words:
            continue
        modifiers = {w.lower() for w in words[1:]}
        unknown = modifiers - {"asc", "desc", "nullsfirst", "nullslast"}
        if unknown:
            raise ConfigError(f"order: unknown modifier {sorted(unknown)[0]!r} in {item!r}", code="config.invalid-value",
                              fix="use `column`, `column.desc` or `column.asc.nullsfirst`")
        nulls = True if "nullsfirst" in modifiers else False if "nullslast" in modifiers else None
        terms.append(OrderTerm(_identifier(words[0], "order column"), "desc" in modifiers, nulls))
    return terms


def _stable_order(configured: list[OrderTerm], columns: Sequence[TableColumn]) -> list[OrderTerm]:
    """The configured order, completed with the primary key (or all orderable columns) as tie-breakers."""
    keys = [c for c in columns if c.primary_key] or [
        c for c in columns if c.pg_type not in _UNORDERABLE_FORMATS and not (c.pg_type == "" and c.logical_type == "json")
    ]
    present = {t.column for t in configured}
    return configured + [OrderTerm(c.name) for c in keys if c.name not in present]


def _filters(raw: Any) -> list[tuple[str, str | None, Any]]:
    """`filter` as a mapping {column: "op.value" | scalar | list} or a PostgREST query string."""
    if raw is None or raw == "" or raw == {}:
        return []
    if isinstance(raw, str):
        pairs = parse_qsl(raw, keep_blank_values=True, strict_parsing=False)
        if not pairs or any(not _FILTER_OPERATOR.match(v) for _, v in pairs):
            raise ConfigError(
                f"filter {raw!r} is not a PostgREST filter; over the REST API a filter is "
                "`column=operator.value` pairs joined by `&` (e.g. `status=eq.done&amount=gt.10`) or a mapping",
                code="config.invalid-value",
                fix="write `filter: {status: eq.done}`, or give the connection a direct `dsn` for SQL filters",
            )
        raw = dict(pairs)
    if not isinstance(raw, Mapping):
        raise ConfigError("filter must be a mapping of column to PostgREST filter", code="config.invalid-type")
    out: list[tuple[str, str | None, Any]] = []
    for column, value in raw.items():
        column = _identifier(column, "filter column")
        if isinstance(value, str) and _FILTER_OPERATOR.match(value):
            operator, _, criteria = value.partition(".")
            if operator == "not":
                inner, _, criteria = criteria.partition(".")
                operator = f"not.{inner}"
            out.append((column, operator, criteria))
        elif isinstance(value, (list, tuple)):
            out.append((column, "in", list(value)))
        else:
            out.append((column, None, value))  # equality
    return out


def _positive_int(config: Mapping[str, Any], name: str, default: int | None) -> int | None:
    value = config.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}", code="config.invalid-value")
    return value


def _schema_and_table(ctx: StepContext) -> tuple[str, str]:
    """`table` (possibly `schema.table`) and `schema` from the config, validated; schema defaults to public."""
    schema, table = split_qualified(ctx.config.get("table"), what="table", dialect="postgres")
    schema = schema or ctx.config.get("schema") or "public"
    return _identifier(schema, "schema"), table


def _retries(config: Mapping[str, Any]) -> int:
    value = config.get("retries")
    if value is None:
        return DEFAULT_RETRIES
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"retries must be a non-negative integer, got {value!r}", code="config.invalid-value")
    return value


def _require_table(ctx: StepContext) -> str:
    if ctx.config.get("query"):
        raise ConfigError(
            "`query` needs a direct Postgres connection; the REST API cannot run SQL",
            code="connection.direct-required",
            fix="add `dsn` (or host/port/database/user/password) to the Supabase connection, or use `table`",
        )
    if not ctx.config.get("table"):
        raise ConfigError("`table` is required", code="config.missing-required")
    return _schema_and_table(ctx)[1]


def extract_rest(ctx: StepContext) -> Iterator[Batch]:
    """Read a Supabase table over REST, page by page, as Batches with a typed schema (see module doc)."""
    table = _require_table(ctx)
    wanted = [_identifier(c, "column") for c in selected_columns(ctx.config)]
    filters = _filters(ctx.config.get("filter"))
    configured_order = _order_terms(ctx.config.get("order"))
    page_size = _positive_int(ctx.config, "batch_size", DEFAULT_PAGE_SIZE) or DEFAULT_PAGE_SIZE
    limit = _positive_int(ctx.config, "limit", None)
    skip = ctx.config.get("offset") or 0
    if not isinstance(skip, int) or isinstance(skip, bool) or skip < 0:
        raise ConfigError(f"`offset` must be a non-negative integer, got {skip!r}", code="config.invalid-type")
    policy = RetryPolicy(retries=_retries(ctx.config))

    with RestSession(ctx, policy) as session:
        described = describe_table(session.openapi(), table)
        if described is not None:
            by_name = {c.name: c for c in described}
            unknown = [c for c in wanted if c not in by_name]
            if unknown:
                raise RunFailed(f"table {table} has no column(s) {', '.join(unknown)}", code="run.column-missing",
                                fix="remove them from `columns` or add them to the table")
            columns = [by_name[c] for c in wanted] if wanted else described
            order_columns = described
        else:
            first = _fetch_page(session, table, "*" if not wanted else ",".join(wanted), filters, [], 0, 1, count=False)[0]
            names = wanted or (list(first[0]) if first else [])
            columns = _inferred_columns(first, names)
            order_columns = columns
        order = _stable_order(configured_order, order_columns)
        select = ",".join(_select_item(c) for c in columns) if columns else "*"
        ctx.emit("rest.extract.start", table=table, order=[t.column for t in order], page_size=page_size)

        offset, total = 0, None  # offset: rows read so far, after the `offset` rows skipped
        converters: list[Callable[[Any], Any]] | None = None
        schema: Schema | None = None
        while limit is None or offset < limit:
            if ctx.cancelled:
                return
            size = page_size if limit is None else min(page_size, limit - offset)
            rows, count = _fetch_page(session, table, select, filters, order, skip + offset, size, count=total is None)
            if count is not None:
                count = max(0, count - skip)
            if total is None:
                total = count
            if not rows:
                break
            if schema is None:
                if not columns:  # empty OpenAPI description and no column list: learn names from the data
                    columns = _inferred_columns(rows, list(rows[0]))
                schema = _batch_schema(columns)
                converters = [_from_json(c) for c in columns]
            assert converters is not None
            names = schema.names
            batch_rows = [
                tuple(None if (v := row.get(name)) is None else convert(v) for name, convert in zip(names, converters))
                for row in rows
            ]
            offset += len(rows)
            ctx.add_read(len(batch_rows))
            yield Batch(schema, batch_rows)
            if total is not None and offset >= total:
                break
        if schema is None and columns:  # no rows: still announce the schema downstream
            yield Batch(_batch_schema(columns), [])


def _batch_schema(columns: Sequence[TableColumn]) -> Schema:
    return Schema(tuple(Column(c.name, c.logical_type, c.nullable, c.source_type) for c in columns))


def _select_item(column: TableColumn) -> str:
    name = column.name if _PLAIN_NAME.match(column.name) else '"' + column.name.replace('"', '\\"') + '"'
    return f"{name}::text" if column.pg_type == "numeric" else name  # exact digits, not a JSON float


def _fetch_page(
    session: RestSession,
    table: str,
    select: str,
    filters: list[tuple[str, str | None, Any]],
    order: list[OrderTerm],
    offset: int,
    size: int,
    *,
    count: bool,
) -> tuple[list[dict[str, Any]], int | None]:
    def request(client: Any, maybe_committed: bool) -> tuple[list[dict[str, Any]], int | None]:
        query = client.table(table).select(select, count="exact" if count else None)
        for column, operator, value in filters:
            if operator is None:
                query = query.eq(column, value)
            elif operator == "in" and isinstance(value, list):
                query = query.in_(column, value)
            else:
                query = query.filter(column, operator, value)
        for term in order:
            query = query.order(term.column, desc=term.descending, nullsfirst=term.nulls_first)
        response = query.range(offset, offset + size - 1).execute()
        return list(response.data), response.count

    return session.call(f"GET {table}", request)


# ---------------------------------------------------------------------------------------------
# Writing


def _timedelta_text(value: timedelta) -> str:
    """MySQL TIME arrives as timedelta; Postgres reads `[-]HH:MM:SS.ffffff` as time or interval."""
    micros = (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
    sign = "-" if micros < 0 else ""
    micros = abs(micros)
    seconds, micro = divmod(micros, 1_000_000)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{sign}{hours:02d}:{minutes:02d}:{secs:02d}" + (f".{micro:06d}" if micro else "")


def _float_json(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"  # JSON has no NaN/Infinity; Postgres float input reads these words
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _bytea_hex(value: bytes | bytearray | memoryview) -> str:
    return "\\x" + bytes(value).hex()  # bytea hex input


# Exact-type fast path for the common values; subclasses and the rest go down the slower chain.
_ENCODE_BY_TYPE: dict[type, Callable[[Any], Any]] = {
    float: _float_json,
    Decimal: str,  # numeric input accepts the exact digits (and NaN) as text
    datetime: datetime.isoformat,
    date: date.isoformat,
    time_of_day: time_of_day.isoformat,
    timedelta: _timedelta_text,
    bytes: _bytea_hex,
    UUID: str,
}


def to_json_value(value: Any, logical_type: str = "string") -> Any:
    """A Batch value as the JSON PostgREST reads back into the same Postgres value, losslessly."""
    if isinstance(value, str) and logical_type == "json":  # JSON text: send the document, not a string
        try:
            return json.loads(value)
        except ValueError:
            return value
    if value is None or isinstance(value, (bool, int, str)):
        return value
    encode = _ENCODE_BY_TYPE.get(type(value))
    if encode is not None:
        return encode(value)
    if isinstance(value, float):
        return _float_json(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date, time_of_day)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return _timedelta_text(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _bytea_hex(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, (set, frozenset)):  # MySQL SET
        return ",".join(sorted(str(v) for v in value))
    if isinstance(value, Mapping):
        return {str(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_value(v) for v in value]
    return str(value)


@dataclass(frozen=True)
class WriterSettings:
    table: str
    write_mode: str
    primary_key: tuple[str, ...]
    batch_size: int
    create_if_missing: bool
    retries: int

    @classmethod
    def from_config(cls, ctx: StepContext) -> "WriterSettings":
        config = ctx.config
        table = _require_table(ctx)
        mode = str(config.get("write_mode") or config.get("mode") or "append")
        if mode not in ("append", "upsert", "replace"):
            raise ConfigError(f"write_mode must be append, upsert or replace, not {mode!r}",
                              code="config.invalid-enum")
        raw_key = config.get("primary_key", config.get("upsert_keys"))
        keys = [raw_key] if isinstance(raw_key, str) else list(raw_key or ())
        settings = cls(
            table=table,
            write_mode=mode,
            primary_key=tuple(_identifier(k, "primary_key column") for k in keys),
            batch_size=_positive_int(config, "batch_size", DEFAULT_WRITE_BATCH) or DEFAULT_WRITE_BATCH,
            create_if_missing=bool(config.get("create_if_missing", False)),
            retries=_retries(config),
        )
        if mode == "replace":
            raise ConfigError(
                "write_mode replace needs a direct Postgres connection: over the REST API "
                "there is no transaction across requests, so a failed replace would leave the table half "
                "replaced",
                code="connection.direct-required",
                fix="add `dsn` (or host/port/database/user/password) to the Supabase connection, or use upsert",
            )
        if mode == "upsert" and not settings.primary_key:
            raise ConfigError("write_mode upsert needs primary_key", code="config.missing-required",
                              fix="set `primary_key: <column>` (or a list of columns) to the conflict key")
        return settings


def write_rest(ctx: StepContext, batches: Iterator[Batch]) -> None:
    """Write Batches to a Supabase table over REST: append or upsert, in requests of `batch_size` rows."""
    settings = WriterSettings.from_config(ctx)
    policy = RetryPolicy(retries=settings.retries)
    with RestSession(ctx, policy) as session:
        # The first batch carries the source's columns: what CREATE TABLE would need if the table is missing.
        first = next(batches, None)
        _check_target(session, ctx, settings, first.schema if first is not None else None)
        ctx.emit("rest.write.start", table=settings.table, write_mode=settings.write_mode,
                 batch_size=settings.batch_size)
        for batch in itertools.chain(() if first is None else (first,), batches):
            if ctx.cancelled:
                return
            names = batch.schema.names
            for name in names:
                _identifier(name, "column")
            types = [c.type for c in batch.schema.columns]
            # Values JSON already carries as is skip the encoder: one set lookup instead of a call per cell.
            as_is = [_JSON_NATIVE - {str} if t == "json" else _JSON_NATIVE for t in types]
            for start in range(0, len(batch.rows), settings.batch_size):
                if ctx.cancelled:
                    return
                chunk = batch.rows[start:start + settings.batch_size]
                body = [
                    {n: v if type(v) in keep else to_json_value(v, t) for n, v, t, keep in zip(names, row, types, as_is)}
                    for row in chunk
                ]
                _send(session, settings, body)
                ctx.add_written(len(chunk))


def _check_target(session: RestSession, ctx: StepContext, settings: WriterSettings, source: Schema | None) -> None:
    """Fail before writing when the table is missing: with create_if_missing that needs DDL (direct
    path), so say which statement would create it (from the source's columns)."""

    def probe(client: Any, maybe_committed: bool) -> None:
        client.table(settings.table).select("*").limit(0).execute()

    try:
        session.call(f"GET {settings.table}", probe)
    except RestRequestFailed as exc:
        if exc.failure.code == "42501":  # a write-only key may not read the table: let the writes decide
            return
        if exc.failure.code not in ("PGRST205", "42P01"):
            raise
        if settings.create_if_missing:
            ddl = _create_statement(ctx, settings, source)
            ctx.emit("rest.write.ddl_needed", table=settings.table, sql=ddl)
            raise RunFailed(
                f"table {settings.table} does not exist and create_if_missing needs `dsn` (a direct Postgres "
                "connection: PostgREST cannot run DDL); nothing was written. "
                + (f"Create the table (Supabase SQL editor), then run again:\n\n{ddl};\n" if ddl else
                   "The source sent no rows, so its columns are unknown: create the table first."),
                code="connection.direct-required",
                fix="run the CREATE TABLE above, or add `dsn` (or host/port/database/user/password) to the Supabase connection",
            ) from None
        raise RunFailed(
            f"table {settings.table} does not exist (or is not exposed by the REST API)",
            code="run.table-missing",
            fix="create the table, or set create_if_missing with a direct Postgres connection",
        ) from None


def _create_statement(ctx: StepContext, settings: WriterSettings, source: Schema | None) -> str | None:
    """The `CREATE TABLE` the direct path would run for this source (same types, same key)."""
    if source is None:
        return None
    from osiris_runtime.drivers.postgres import create_table_sql
    from osiris_runtime.drivers.sql_identifiers import quote_pg

    schema, table = _schema_and_table(ctx)
    return create_table_sql(f"{quote_pg(schema)}.{quote_pg(table)}", source, settings.primary_key)


def _send(session: RestSession, settings: WriterSettings, body: list[dict[str, Any]]) -> None:
    on_conflict = ",".join(settings.primary_key)

    def request(client: Any, maybe_committed: bool) -> None:
        table = client.table(settings.table)
        if settings.write_mode == "upsert":
            table.upsert(body, returning="minimal", on_conflict=on_conflict).execute()
        elif maybe_committed and on_conflict:
            # A retried append may already be committed: skip rows whose key is already there.
            table.upsert(body, returning="minimal", on_conflict=on_conflict, ignore_duplicates=True).execute()
        else:
            table.insert(body, returning="minimal").execute()

    session.call(f"POST {settings.table}", request)
