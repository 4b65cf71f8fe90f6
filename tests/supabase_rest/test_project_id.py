"""A Supabase connection that gives only `project_id` (no `url`): doctor, discovery and the writer
all call `https://<project_id>.supabase.co`, built in one place (`supabase_rest_url`).

The name is served from loopback by `tests/fakes/supabase_domain.py` (a CONNECT proxy with a test
CA, reached through the clients' own `HTTPS_PROXY` / `SSL_CERT_FILE`), in front of the fake PostgREST.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

import pytest

from osiris_runtime.discovery.sources import discover_connection
from osiris_runtime.drivers.base import StepContext
from osiris_runtime.drivers.supabase_rest import write_rest
from osiris_runtime.oml.connections import supabase_rest_url
from osiris_runtime.runner.batches import Batch, Column, Schema
from tests.fakes.supabase_domain import FakeSupabaseDomain

from .conftest import API_KEY

pytestmark = pytest.mark.integration

PROJECT = "abcdefghijklmnopqrst"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def domain(rest_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeSupabaseDomain]:
    port = int(rest_server.url.rsplit(":", 1)[1])
    with FakeSupabaseDomain(tmp_path_factory.mktemp("supabase-domain"), port) as fake_domain:
        yield fake_domain


@pytest.fixture
def routed(domain: FakeSupabaseDomain, monkeypatch: pytest.MonkeyPatch) -> FakeSupabaseDomain:
    """This process's httpx clients reach `*.supabase.co` through the fake domain."""
    for name, value in domain.client_env().items():
        monkeypatch.setenv(name, value)
    domain.connects.clear()
    return domain


def test_the_url_comes_from_url_first_then_project_id_in_precedence_order():
    assert supabase_rest_url({"project_id": PROJECT}) == f"https://{PROJECT}.supabase.co"
    assert supabase_rest_url({"url": "https://x.example", "project_id": PROJECT}) == "https://x.example"
    # the connection's project_id wins over a step's url only when the connection has no url
    assert supabase_rest_url({"url": "https://conn.example"}, {"url": "https://step.example"}) == "https://conn.example"
    assert supabase_rest_url({}, {"url": "https://step.example", "project_id": PROJECT}) == "https://step.example"
    assert supabase_rest_url({"url": ""}, {}) is None


def test_doctor_accepts_a_project_id_only_connection(server: Any, domain: FakeSupabaseDomain, tmp_path: Path):
    (tmp_path / "osiris_connections.yaml").write_text(
        f"connections:\n  supabase:\n    main:\n      project_id: {PROJECT}\n      service_role_key: ${{SB_KEY}}\n")
    env = {**os.environ, **domain.client_env(), "SB_KEY": API_KEY, "PYTHONPATH": str(REPO)}
    env.pop("OSIRIS_CONNECTIONS", None)
    domain.connects.clear()
    result = subprocess.run([sys.executable, "-m", "osiris_runtime.cli.main", "connections", "doctor", "--json"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    report = json.loads(result.stdout)["results"]["@supabase.main"]
    assert result.returncode == 0 and report["ok"], result.stdout + result.stderr
    assert domain.connects == [f"{PROJECT}.supabase.co:443"]
    assert [r.path for r in server.requests] == ["/rest/v1/"]
    assert API_KEY not in result.stdout + result.stderr


def test_doctor_with_a_wrong_key_for_a_project_id_is_an_auth_failure(server: Any, routed: FakeSupabaseDomain):
    from osiris_runtime.connectivity import probe

    found = probe("supabase", {"project_id": PROJECT, "key": "sb_secret_wrong_key_value"}, 5.0)
    assert (found.ok, found.category) == (False, "auth")
    assert routed.connects == [f"{PROJECT}.supabase.co:443"]


def test_discovery_reads_a_project_id_only_connection(server: Any, routed: FakeSupabaseDomain, pg: Any, table_name: Any):
    name = table_name("pid_discover")
    pg.execute(f'CREATE TABLE "{name}" (id int PRIMARY KEY, label text)')
    found = discover_connection("supabase", {"project_id": PROJECT, "key": API_KEY}, pattern=name)
    assert [t.name for t in found.tables] == [name]
    assert routed.connects == [f"{PROJECT}.supabase.co:443"]


def test_the_writer_writes_through_a_project_id_only_connection(server: Any, routed: FakeSupabaseDomain, pg: Any,
                                                                table_name: Any):
    name = table_name("pid_write")
    pg.execute(f'CREATE TABLE "{name}" (id int PRIMARY KEY, score numeric(6,2))')
    ctx = StepContext(step_id="w", component="supabase.writer", mode="write", config={"table": name},
                      resolve_connection=lambda: {"project_id": PROJECT, "anon_key": API_KEY},
                      emit=lambda *a, **k: None)
    schema = Schema((Column("id", "int32", False), Column("score", "decimal(6,2)")))
    write_rest(ctx, iter([Batch(schema, [(1, Decimal("1.25")), (2, Decimal("2.50"))])]))
    assert pg.execute(f'SELECT id, score FROM "{name}" ORDER BY id').fetchall() == [(1, Decimal("1.25")), (2, Decimal("2.50"))]
    assert set(routed.connects) == {f"{PROJECT}.supabase.co:443"}
