"""Fixtures for the Supabase REST path: the fake PostgREST over the real PostgreSQL, tables, contexts."""

from __future__ import annotations

import threading
import uuid
from typing import Any, Callable, Iterator

import psycopg
import pytest

from osiris_runtime.drivers.base import StepContext
from tests.fakes import postgrest as fake_postgrest

PG_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test"
# A canary key: it must never show up in an error message or an event.
API_KEY = "sb_secret_" + "CanaryKey" * 5




@pytest.fixture(scope="session")
def fake() -> Any:
    """The fake PostgREST module (FakePostgrest, Fault, RecordedRequest)."""
    return fake_postgrest


@pytest.fixture(scope="session")
def api_key() -> str:
    return API_KEY


@pytest.fixture(scope="session")
def pg_available() -> None:
    try:
        psycopg.connect(PG_DSN, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL at 127.0.0.1:5432 is required: {exc}")


@pytest.fixture(scope="session")
def rest_server(pg_available: None) -> Iterator[Any]:
    with fake_postgrest.FakePostgrest(PG_DSN, api_key=API_KEY) as server:
        yield server


@pytest.fixture
def server(rest_server: Any) -> Iterator[Any]:
    """The shared fake, with its request log and pending faults cleared for this test."""
    _reset(rest_server)
    yield rest_server
    _reset(rest_server)


def _reset(server: Any) -> None:
    server.clear()
    server.max_rows = None
    server.serve_openapi = True
    server.role = None


@pytest.fixture
def pg(pg_available: None) -> Iterator[psycopg.Connection]:
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        yield conn


@pytest.fixture
def table_name(pg: psycopg.Connection) -> Iterator[Callable[[str], str]]:
    """Unique `rest_<label>_<hex>` table names, dropped after the test."""
    made: list[str] = []

    def make(label: str) -> str:
        name = f"rest_{label}_{uuid.uuid4().hex[:8]}"
        made.append(name)
        return name

    yield make
    for name in made:
        pg.execute(f'DROP TABLE IF EXISTS public."{name}"')


class Recorder:
    """Events emitted by a driver, and how many times it resolved its connection."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.resolutions = 0
        self._lock = threading.Lock()

    def emit(self, event: str, **fields: Any) -> None:
        with self._lock:
            self.events.append((event, fields))

    def named(self, event: str) -> list[dict[str, Any]]:
        return [f for e, f in self.events if e == event]


@pytest.fixture
def make_ctx(server: Any) -> Callable[..., tuple[StepContext, Recorder]]:
    def make(config: dict[str, Any], *, key: str = API_KEY, url: str | None = None, component: str = "supabase.extractor",
             mode: str = "extract") -> tuple[StepContext, Recorder]:
        recorder = Recorder()

        def resolve() -> dict[str, Any]:
            recorder.resolutions += 1
            return {"url": url or server.url, "key": key}

        ctx = StepContext(step_id="step-under-test", component=component, mode=mode, config=config,
                          resolve_connection=resolve, emit=recorder.emit)
        return ctx, recorder

    return make
