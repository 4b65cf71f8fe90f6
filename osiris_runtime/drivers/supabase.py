"""Supabase extractor and writer: the direct Postgres path when the connection has one, else REST.

A resolved connection with `dsn` or `host` goes through `osiris_runtime.drivers.postgres`
(binary COPY out; COPY into the target or a staging table plus one final statement, all in one
transaction). A connection with only `url` + `key` goes through the REST API in
`osiris_runtime.drivers.supabase_rest` (supabase-py). The choice is made on each run from
`ctx.connection()`, so adding a `dsn` to a connection switches a pipeline to the fast path.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Any

from osiris_runtime.drivers import postgres
from osiris_runtime.drivers.base import StepContext
from osiris_runtime.drivers.copy_text import COPY_TEXT
from osiris_runtime.drivers.step_options import ReadOptions, WriteOptions
from osiris_runtime.errors import ConfigError
from osiris_runtime.runner.batches import Batch

DEFAULT_SCHEMA = "public"


def _rest_module() -> Any:
    try:
        return importlib.import_module("osiris_runtime.drivers.supabase_rest")
    except ImportError as exc:
        raise ConfigError(
            f"the Supabase REST path is not available ({exc}); add a direct connection (`dsn` or `host`)",
            code="connection.rest-unavailable",
        ) from None


# Step fields that only shape the direct Postgres connection; PostgREST has no say in them.
DIRECT_ONLY_FIELDS = ("database", "port", "user", "sslmode")


def _is_direct(ctx: StepContext) -> bool:
    return postgres.has_direct_connection(ctx.connection())


def _refuse_direct_only_fields(ctx: StepContext) -> None:
    """A step's `database` (port, user, sslmode) over REST would be ignored: refuse it instead.
    The validator says the same from the spec's constraints; this holds for a manifest run against
    a connection that lost its `dsn` since."""
    named = [name for name in DIRECT_ONLY_FIELDS if ctx.config.get(name) is not None]
    if named:
        listed = ", ".join(f"`{name}`" for name in named)
        raise ConfigError(
            f"{listed} {'apply' if len(named) > 1 else 'applies'} only to a direct Postgres connection, and this "
            "connection has none (no `dsn` or `host`): the REST API would ignore it",
            code="connection.direct-required",
            fix=f"remove {listed} from the step, or add `dsn` (or `host`) to the connection to use the direct path",
        )


class SupabaseExtractor:
    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx

    def run(self, inputs: Mapping[str, Iterator[Batch]]) -> Iterator[Batch]:
        if _is_direct(self.ctx):
            options = ReadOptions.from_config(self.ctx.config, dialect="postgres", default_schema=DEFAULT_SCHEMA)
            self.ctx.emit("supabase.path", path="direct")
            return postgres.extract(self.ctx, options)
        if self.ctx.config.get("query"):
            raise ConfigError(
                "`query` needs a direct Postgres connection (`dsn` or `host`); the REST API cannot run SQL",
                code="connection.direct-required",
                fix="add `dsn` (or host/database/user/password) to the connection, or read a `table` instead",
            )
        _refuse_direct_only_fields(self.ctx)
        self.ctx.emit("supabase.path", path="rest")
        return _rest_module().extract_rest(self.ctx)


class SupabaseWriter:
    # The direct path writes COPY text lines as they are; the REST path decodes them to values.
    accepts = frozenset({COPY_TEXT})

    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx

    def run(self, inputs: Mapping[str, Iterator[Batch]]) -> None:
        batches = (batch for stream in inputs.values() for batch in stream)
        if _is_direct(self.ctx):
            options = WriteOptions.from_config(self.ctx.config, dialect="postgres", default_schema=DEFAULT_SCHEMA)
            self.ctx.emit("supabase.path", path="direct")
            postgres.write(self.ctx, options, batches)
            return
        _refuse_direct_only_fields(self.ctx)
        self.ctx.emit("supabase.path", path="rest")
        _rest_module().write_rest(self.ctx, batches)
        return
