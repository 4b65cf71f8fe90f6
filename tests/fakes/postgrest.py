"""A FAKE PostgREST server for tests: loopback HTTP backed by the real PostgreSQL.

It implements only the subset of the PostgREST API that Osiris' REST driver (and supabase-py as it
calls it) uses, with PostgREST's wire shapes, so that the real supabase-py client can talk to it:

- `GET /rest/v1/` — the OpenAPI (Swagger 2.0) description: `definitions.<table>.properties`
  with `format` = the Postgres type name, `required`, and `<pk/>` in a primary key's description.
- `GET /rest/v1/<table>` — `select` (column list, `col::type` casts), `order` (`a.asc,b.desc`,
  `.nullsfirst/.nullslast`), `limit`/`offset`, horizontal filters `col=[not.]op.value` with
  eq, neq, gt, gte, lt, lte, like, ilike, is, in; `Prefer: count=exact` answers
  `Content-Range: <first>-<last>/<total>`.
- `POST /rest/v1/<table>` — object or array body, `columns`, `on_conflict`, `Prefer:
  return=minimal|representation`, `resolution=merge-duplicates|ignore-duplicates`. One statement
  per request (`INSERT ... SELECT ... FROM json_populate_recordset`), so a request is all or nothing.
- `DELETE /rest/v1/<table>` — with the same filters.
- `Accept-Profile` / `Content-Profile` choose the schema (default `public`).
- Errors are PostgREST-shaped JSON `{code, message, details, hint}` with PostgREST's status mapping
  (23505/23503 -> 409, 23502 -> 400, unknown table PGRST205 -> 404, unknown column PGRST204 -> 400).

Test controls: `requests` records every request (method, path, query pairs, headers, body) for
request-shape assertions; `inject(...)` queues faults (an HTTP status with a PostgREST error body, or
a dropped connection) for the next matching requests; `api_key` makes the server answer 401 to a
request whose `apikey` header differs. Run on its own with `python tests/fakes/postgrest.py`.
"""

from __future__ import annotations

import json
import re
import socket
import struct
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import psycopg
from psycopg import sql

REST_PREFIX = "/rest/v1"
FILTER_OPERATORS = {"eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "like": "LIKE", "ilike": "ILIKE"}
RESERVED_PARAMS = {"select", "order", "limit", "offset", "columns", "on_conflict"}
CAST_PATTERN = re.compile(r"^[a-z_][a-z0-9_ ]*(\[\])?$")
JSON_TYPE_OF_FORMAT = {
    "smallint": "integer",
    "integer": "integer",
    "bigint": "integer",
    "numeric": "number",
    "real": "number",
    "double precision": "number",
    "boolean": "boolean",
}


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    headers: dict[str, str]
    body: Any

    def param(self, name: str) -> str | None:
        return next((v for k, v in self.query if k == name), None)

    @property
    def prefer(self) -> set[str]:
        raw = self.headers.get("prefer", "")
        return {p.strip() for p in raw.split(",") if p.strip()}


@dataclass
class Fault:
    """A failure served instead of the next request matching `method` (None: any method)."""

    status: int | None = 503  # None: drop the connection without answering
    method: str | None = None
    body: dict[str, Any] = field(
        default_factory=lambda: {"code": "PGRST000", "message": "injected fault", "details": None, "hint": None}
    )
    headers: dict[str, str] = field(default_factory=dict)
    after_commit: bool = False  # run the request for real, then drop the connection (ambiguous failure)


class PostgrestError(Exception):
    def __init__(self, status: int, code: str, message: str, details: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.status = status
        self.body = {"code": code, "message": message, "details": details, "hint": hint}


class FakePostgrest:
    """Start with `with FakePostgrest(dsn) as server:`; `server.url` is `http://127.0.0.1:<port>`."""

    def __init__(
        self,
        dsn: str,
        *,
        api_key: str | None = None,
        max_rows: int | None = None,
        serve_openapi: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        self.dsn = dsn
        self.api_key = api_key
        self.max_rows = max_rows  # PostgREST's db-max-rows (Supabase "Max rows", 1000 by default)
        self.serve_openapi = serve_openapi  # newer Supabase keys may not see the OpenAPI description
        self.role: str | None = None  # run requests as this database role (PostgREST takes it from the JWT)
        self.requests: list[RecordedRequest] = []
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer((host, port), _make_handler(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "FakePostgrest":
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="fake-postgrest", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> "FakePostgrest":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def inject(self, *faults: Fault) -> None:
        with self._lock:
            self._faults.extend(faults)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self.requests.clear()

    def requests_to(self, table: str, method: str | None = None) -> list[RecordedRequest]:
        path = f"{REST_PREFIX}/{table}"
        return [r for r in list(self.requests) if r.path == path and (method is None or r.method == method)]

    def _record(self, request: RecordedRequest) -> Fault | None:
        with self._lock:
            self.requests.append(request)
            for i, fault in enumerate(self._faults):
                if fault.method is None or fault.method == request.method:
                    return self._faults.pop(i)
        return None

    # The request handlers: each opens a connection and runs one transaction, as PostgREST does.

    def handle(self, method: str, path: str, query: list[tuple[str, str]], headers: dict[str, str], body: Any) -> tuple[int, dict[str, str], bytes]:
        if self.api_key is not None and headers.get("apikey") != self.api_key:
            raise PostgrestError(401, "PGRST301", "No suitable key or wrong key type", None, None)
        if not path.startswith(REST_PREFIX):
            raise PostgrestError(404, "PGRST125", f"Invalid path specified in request URL: {path}")
        rest = path[len(REST_PREFIX):].strip("/")
        read = method in ("GET", "HEAD")
        schema = headers.get("accept-profile" if read else "content-profile") or "public"
        with psycopg.connect(self.dsn, autocommit=False) as conn:
            if self.role:
                conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(self.role)))
            try:
                if rest == "" and method == "GET":
                    if not self.serve_openapi:
                        raise PostgrestError(401, "PGRST301", "Access to the schema is restricted for this key")
                    return 200, {"Content-Type": "application/openapi+json"}, json.dumps(_openapi(conn, schema)).encode()
                table = unquote(rest)
                columns = _table_columns(conn, schema, table)
                if method == "GET":
                    return _select(conn, schema, table, columns, query, headers, self.max_rows)
                if method == "POST":
                    return _insert(conn, schema, table, columns, query, headers, body)
                if method == "DELETE":
                    return _delete(conn, schema, table, columns, query, headers)
                raise PostgrestError(405, "PGRST117", f"Unsupported HTTP method: {method}")
            except psycopg.Error as exc:
                conn.rollback()
                raise _from_database_error(exc) from exc


def _make_handler(server: FakePostgrest) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            query = parse_qsl(parts.query, keep_blank_values=True)
            headers = {k.lower(): v for k, v in self.headers.items()}
            length = int(headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                self._reply(400, {}, _error_bytes({"code": "PGRST102", "message": "Empty or invalid json", "details": None, "hint": None}))
                return
            fault = server._record(RecordedRequest(self.command, parts.path, tuple(query), headers, body))
            if fault is not None and not fault.after_commit:
                if fault.status is None:
                    self._drop()
                else:
                    self._reply(fault.status, fault.headers, _error_bytes(fault.body))
                return
            try:
                status, out_headers, payload = server.handle(self.command, parts.path, query, headers, body)
            except PostgrestError as exc:
                status, out_headers, payload = exc.status, {}, _error_bytes(exc.body)
            if fault is not None:  # the work is committed; the client never hears about it
                self._drop()
                return
            self._reply(status, out_headers, payload)

        def _reply(self, status: int, headers: dict[str, str], payload: bytes) -> None:
            self.send_response(status)
            headers = {"Content-Type": "application/json; charset=utf-8", **headers}
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if payload and self.command != "HEAD":
                self.wfile.write(payload)

        def _drop(self) -> None:
            # SO_LINGER 0 makes close() send a TCP reset, like a proxy or a crashed server.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()

        do_GET = do_POST = do_DELETE = do_PATCH = do_HEAD = _serve

    return Handler


def _error_bytes(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


def _from_database_error(exc: psycopg.Error) -> PostgrestError:
    state = exc.sqlstate or "XX000"
    diag = exc.diag
    if state in ("23502",) or state.startswith("22") or state in ("42703", "42804", "P0001"):
        status = 400
    elif state.startswith("23"):
        status = 409
    elif state in ("42P01", "42883"):
        status = 404
    elif state == "42501":
        status = 403
    elif state.startswith("08") or state.startswith("53") or state.startswith("57P"):
        status = 503
    else:
        status = 500
    return PostgrestError(status, state, diag.message_primary or str(exc), diag.message_detail, diag.message_hint)


def _table_columns(conn: psycopg.Connection, schema: str, table: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        """
        SELECT a.attname, format_type(a.atttypid, NULL), a.attnotnull,
               coalesce(a.attnum = ANY(i.indkey), false) AS is_pk,
               CASE WHEN a.atttypid IN (1042, 1043) AND a.atttypmod > 4 THEN a.atttypmod - 4 END AS max_length
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
        WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'v', 'm', 'p', 'f')
          AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum
        """,
        (schema, table),
    ).fetchall()
    if not rows:
        raise PostgrestError(
            404,
            "PGRST205",
            f"Could not find the table '{schema}.{table}' in the schema cache",
            None,
            "Perhaps you meant a different table",
        )
    return [{"name": r[0], "format": r[1], "not_null": r[2], "pk": r[3], "max_length": r[4]} for r in rows]


def _openapi(conn: psycopg.Connection, schema: str) -> dict[str, Any]:
    tables = [r[0] for r in conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind IN ('r', 'v', 'm', 'p', 'f') ORDER BY c.relname",
        (schema,),
    )]
    definitions: dict[str, Any] = {}
    paths: dict[str, Any] = {"/": {"get": {"summary": "OpenAPI description (this page)"}}}
    for table in tables:
        properties: dict[str, Any] = {}
        required: list[str] = []
        for col in _table_columns(conn, schema, table):
            fmt = col["format"]
            prop: dict[str, Any] = {"format": fmt, "type": "array" if fmt.endswith("[]") else JSON_TYPE_OF_FORMAT.get(fmt, "string")}
            if col["pk"]:
                prop["description"] = "Note:\nThis is a Primary Key.<pk/>"
            if col["max_length"]:
                prop["maxLength"] = col["max_length"]
            properties[col["name"]] = prop
            if col["not_null"]:
                required.append(col["name"])
        definitions[table] = {"type": "object", "properties": properties, **({"required": required} if required else {})}
        paths[f"/{table}"] = {"get": {"tags": [table]}, "post": {"tags": [table]}, "delete": {"tags": [table]}}
    return {
        "swagger": "2.0",
        "info": {"title": "fake PostgREST (tests only)", "version": "12.2.0"},
        "basePath": "/",
        "schemes": ["http"],
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "paths": paths,
        "definitions": definitions,
    }


def _column(columns: list[dict[str, Any]], name: str, table: str) -> str:
    if not any(c["name"] == name for c in columns):
        raise PostgrestError(400, "42703", f"column {table}.{name} does not exist")
    return name


def _select_list(columns: list[dict[str, Any]], table: str, select: str) -> sql.Composable:
    if select.strip() in ("", "*"):
        return sql.SQL("*")
    items: list[sql.Composable] = []
    for raw in _split_top_level(select):
        name, _, cast = raw.strip().partition("::")
        name = _unquote_ident(name)
        if cast and not CAST_PATTERN.match(cast):
            raise PostgrestError(400, "PGRST100", f"unexpected cast '{cast}'")
        ident = sql.Identifier(_column(columns, name, table))
        if cast:
            items.append(sql.SQL("{}::{} AS {}").format(ident, sql.SQL(cast), ident))
        else:
            items.append(ident)
    return sql.SQL(", ").join(items)


def _where(columns: list[dict[str, Any]], table: str, query: list[tuple[str, str]]) -> tuple[sql.Composable, list[Any]]:
    clauses: list[sql.Composable] = []
    params: list[Any] = []
    for key, value in query:
        if key in RESERVED_PARAMS:
            continue
        ident = sql.Identifier(_column(columns, _unquote_ident(key), table))
        negate = value.startswith("not.")
        if negate:
            value = value[4:]
        op, dot, operand = value.partition(".")
        if not dot:
            raise PostgrestError(400, "PGRST100", f"failed to parse filter ({key}={value})")
        if op in FILTER_OPERATORS:
            if op in ("like", "ilike"):
                operand = operand.replace("*", "%")
            clause = sql.SQL("{} {} %s").format(ident, sql.SQL(FILTER_OPERATORS[op]))
            params.append(operand)
        elif op == "is":
            keyword = {"null": "NULL", "true": "TRUE", "false": "FALSE", "unknown": "UNKNOWN"}.get(operand.lower())
            if keyword is None:
                raise PostgrestError(400, "PGRST100", f"failed to parse filter ({key}={value})")
            clause = sql.SQL("{} IS {}").format(ident, sql.SQL(keyword))
        elif op == "in":
            if not (operand.startswith("(") and operand.endswith(")")):
                raise PostgrestError(400, "PGRST100", f"failed to parse filter ({key}={value})")
            items = [_unquote_ident(v) for v in _split_top_level(operand[1:-1])] if operand[1:-1] else []
            placeholders = sql.SQL(", ").join(sql.Placeholder() for _ in items)
            clause = sql.SQL("{} IN ({})").format(ident, placeholders) if items else sql.SQL("FALSE")
            params.extend(items)
        else:
            raise PostgrestError(400, "PGRST100", f"unknown operator '{op}' in filter ({key}={value})")
        clauses.append(sql.SQL("NOT ({})").format(clause) if negate else clause)
    if not clauses:
        return sql.SQL(""), params
    return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(clauses), params


def _order_by(columns: list[dict[str, Any]], table: str, order: str | None) -> sql.Composable:
    if not order:
        return sql.SQL("")
    items: list[sql.Composable] = []
    for term in _split_top_level(order):
        parts = term.split(".")
        name, modifiers = _unquote_ident(parts[0]), parts[1:]
        direction = sql.SQL("DESC" if "desc" in modifiers else "ASC")
        nulls = sql.SQL(" NULLS FIRST" if "nullsfirst" in modifiers else " NULLS LAST" if "nullslast" in modifiers else "")
        items.append(sql.SQL("{} {}{}").format(sql.Identifier(_column(columns, name, table)), direction, nulls))
    return sql.SQL(" ORDER BY ") + sql.SQL(", ").join(items)


def _non_negative(query: list[tuple[str, str]], name: str) -> int | None:
    raw = next((v for k, v in query if k == name), None)
    if raw is None:
        return None
    if not raw.isdigit():
        raise PostgrestError(400, "PGRST100", f"failed to parse {name} parameter ({raw})")
    return int(raw)


def _select(conn: psycopg.Connection, schema: str, table: str, columns: list[dict[str, Any]], query: list[tuple[str, str]], headers: dict[str, str], max_rows: int | None) -> tuple[int, dict[str, str], bytes]:
    params = dict(query)
    relation = sql.Identifier(schema, table)
    where, where_params = _where(columns, table, query)
    limit, offset = _non_negative(query, "limit"), _non_negative(query, "offset") or 0
    if max_rows is not None:
        limit = max_rows if limit is None else min(limit, max_rows)
    statement = sql.SQL("SELECT coalesce(json_agg(_pgrst_page), '[]')::text FROM (SELECT {} FROM {}{}{}{} OFFSET {}) _pgrst_page").format(
        _select_list(columns, table, params.get("select", "*")),
        relation,
        where,
        _order_by(columns, table, params.get("order")),
        sql.SQL(" LIMIT {}").format(sql.Literal(limit)) if limit is not None else sql.SQL(""),
        sql.Literal(offset),
    )
    payload = conn.execute(statement, where_params).fetchone()[0]
    returned = len(json.loads(payload))
    total = "*"
    if "count=exact" in headers.get("prefer", ""):
        total = str(conn.execute(sql.SQL("SELECT count(*) FROM {}{}").format(relation, where), where_params).fetchone()[0])
    conn.commit()
    span = f"{offset}-{offset + returned - 1}" if returned else "*"
    return 200, {"Content-Range": f"{span}/{total}"}, payload.encode()


def _prefer(headers: dict[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in headers.get("prefer", "").split(","):
        key, _, value = item.strip().partition("=")
        if key:
            out[key] = value
    return out


def _insert(conn: psycopg.Connection, schema: str, table: str, columns: list[dict[str, Any]], query: list[tuple[str, str]], headers: dict[str, str], body: Any) -> tuple[int, dict[str, str], bytes]:
    if isinstance(body, dict):
        body = [body]
    if not isinstance(body, list) or not all(isinstance(row, dict) for row in body):
        raise PostgrestError(400, "PGRST102", "All object keys must match")
    params = dict(query)
    if "columns" in params:
        names = [_unquote_ident(c) for c in _split_top_level(params["columns"])]
    else:
        names = list(dict.fromkeys(k for row in body for k in row))
    for name in names:
        if not any(c["name"] == name for c in columns):
            raise PostgrestError(400, "PGRST204", f"Could not find the '{name}' column of '{table}' in the schema cache")
    prefer = _prefer(headers)
    relation = sql.Identifier(schema, table)
    idents = [sql.Identifier(n) for n in names]
    statement = sql.SQL("INSERT INTO {} ({}) SELECT {} FROM json_populate_recordset(NULL::{}, %s::json)").format(
        relation, sql.SQL(", ").join(idents), sql.SQL(", ").join(idents), relation
    )
    resolution = prefer.get("resolution")
    if resolution in ("merge-duplicates", "ignore-duplicates"):
        conflict = [_unquote_ident(c) for c in _split_top_level(params["on_conflict"])] if params.get("on_conflict") else [c["name"] for c in columns if c["pk"]]
        target = sql.SQL(", ").join(sql.Identifier(_column(columns, c, table)) for c in conflict)
        updates = [n for n in names if n not in conflict]
        if resolution == "ignore-duplicates" or not updates:
            statement += sql.SQL(" ON CONFLICT ({}) DO NOTHING").format(target)
        else:
            statement += sql.SQL(" ON CONFLICT ({}) DO UPDATE SET {}").format(
                target, sql.SQL(", ").join(sql.SQL("{} = EXCLUDED.{}").format(sql.Identifier(n), sql.Identifier(n)) for n in updates)
            )
    representation = prefer.get("return") == "representation"
    if representation:
        statement = sql.SQL("WITH _pgrst_written AS ({} RETURNING *) SELECT coalesce(json_agg(_pgrst_written), '[]')::text, count(*) FROM _pgrst_written").format(statement)
        payload, affected = conn.execute(statement, [json.dumps(body)]).fetchone()
    else:
        affected = conn.execute(statement, [json.dumps(body)]).rowcount
        payload = ""
    conn.commit()
    return 201, {"Content-Range": f"*/{affected}" if "count" in prefer else "*/*"}, payload.encode()


def _delete(conn: psycopg.Connection, schema: str, table: str, columns: list[dict[str, Any]], query: list[tuple[str, str]], headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    where, where_params = _where(columns, table, query)
    affected = conn.execute(sql.SQL("DELETE FROM {}{}").format(sql.Identifier(schema, table), where), where_params).rowcount
    conn.commit()
    return 204, {"Content-Range": f"*/{affected}"}, b""


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside double quotes and parentheses, as PostgREST's parser does."""
    parts: list[str] = []
    current: list[str] = []
    depth, quoted, escaped = 0, False, False
    for char in text:
        if escaped:
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        elif not quoted and depth == 0 and char == ",":
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def _unquote_ident(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    return text


if __name__ == "__main__":
    import argparse
    import time

    parser = argparse.ArgumentParser(description="Fake PostgREST over a real PostgreSQL (tests only)")
    parser.add_argument("--dsn", default="host=127.0.0.1 port=5432 user=postgres dbname=test")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--api-key")
    args = parser.parse_args()
    with FakePostgrest(args.dsn, api_key=args.api_key, port=args.port) as fake:
        print(fake.url, flush=True)
        while True:
            time.sleep(3600)
