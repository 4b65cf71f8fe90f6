"""`osiris connections list` / `doctor` against the real MariaDB and PostgreSQL on this machine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import osiris

from osiris_runtime.connectivity import classify

CONNECTIONS = """\
connections:
  mysql:
    local:
      default: true
      host: 127.0.0.1
      port: 3306
      user: root
      password: ${RUNNER_TEST_MYSQL_PW:-}
      database: test
    wrongpw:
      host: 127.0.0.1
      user: root
      password: ${RUNNER_TEST_WRONG_PW}
    refused:
      host: 127.0.0.1
      port: 1
      user: root
      password: literal-secret-in-file
    nodns:
      host: no-such-host.invalid
      user: root
      password: x
    unset:
      host: 127.0.0.1
      user: root
      password: ${RUNNER_TEST_NEVER_SET}
  supabase:
    direct:
      dsn: postgresql://postgres@127.0.0.1:5432/test
"""
WRONG_PW = "wrong-pw-canary-51c0"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "osiris_connections.yaml").write_text(CONNECTIONS)
    return tmp_path


def test_list_shows_aliases_and_variables_and_masks_literal_secrets(workspace: Path):
    result = osiris("connections", "list", "--json", cwd=workspace, env={"RUNNER_TEST_WRONG_PW": WRONG_PW})
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)["connections"]
    assert data["mysql"]["local"]["default"] is True
    assert data["mysql"]["refused"]["fields"]["password"] == "***"
    assert data["mysql"]["wrongpw"]["fields"]["password"] == "${RUNNER_TEST_WRONG_PW}"
    assert data["mysql"]["wrongpw"]["variables"] == {"RUNNER_TEST_WRONG_PW": True}
    assert data["mysql"]["unset"]["variables"] == {"RUNNER_TEST_NEVER_SET": False}
    assert "literal-secret-in-file" not in result.stdout and WRONG_PW not in result.stdout


@pytest.mark.integration
def test_doctor_reports_latency_or_a_reason_and_exits_5_on_failure(workspace: Path):
    result = osiris("connections", "doctor", "--json", cwd=workspace, env={"RUNNER_TEST_WRONG_PW": WRONG_PW})
    assert result.returncode == 5, result.stderr
    results = json.loads(result.stdout)["results"]
    assert results["@mysql.local"]["ok"] and results["@mysql.local"]["latency_ms"] > 0
    assert results["@supabase.direct"]["ok"]
    assert results["@mysql.wrongpw"]["category"] == "auth"
    assert results["@mysql.refused"]["category"] == "refused"
    assert results["@mysql.nodns"]["category"] == "dns"
    assert results["@mysql.unset"]["category"] == "config"
    assert "RUNNER_TEST_NEVER_SET" in results["@mysql.unset"]["message"]
    assert WRONG_PW not in result.stdout + result.stderr


@pytest.mark.integration
def test_doctor_of_one_healthy_alias_exits_0(workspace: Path):
    result = osiris("connections", "doctor", "@mysql.local", cwd=workspace)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("ok    @mysql.local")


def test_doctor_of_an_unknown_alias_lists_the_known_ones(workspace: Path):
    result = osiris("connections", "doctor", "mysql.nope", cwd=workspace)
    assert result.returncode == 5
    assert "@mysql.local" in result.stderr


def test_doctor_reads_the_secrets_file(workspace: Path):
    (workspace / "secrets.yaml").write_text(f"RUNNER_TEST_NEVER_SET: {WRONG_PW}\n")
    result = osiris("connections", "doctor", "unset", "--secrets-file", "secrets.yaml", "--json", cwd=workspace)
    assert json.loads(result.stdout)["results"]["@mysql.unset"]["category"] == "auth"
    assert WRONG_PW not in result.stdout


def test_classify_uses_types_and_driver_words():
    import socket

    assert classify(socket.gaierror("x")) == "dns"
    assert classify(ConnectionRefusedError()) == "refused"
    assert classify(RuntimeError('FATAL: password authentication failed for user "x"')) == "auth"
    assert classify(RuntimeError("connection timeout expired")) == "timeout"
    assert classify(RuntimeError("something else")) == "error"


def test_list_never_shows_the_fallback_of_a_secret_field(tmp_path: Path):
    (tmp_path / "osiris_connections.yaml").write_text(
        "connections:\n  mysql:\n    fb:\n      host: ${DB_HOST:-db.internal}\n      user: root\n"
        "      password: ${DB_PASS:-fallback-canary-9d2}\n")
    for args in (("--json",), ()):
        result = osiris("connections", "list", *args, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "fallback-canary-9d2" not in result.stdout + result.stderr
        assert "${DB_PASS:-***}" in result.stdout and "${DB_HOST:-db.internal}" in result.stdout


def test_a_dsn_in_a_manifest_connection_is_not_echoed(tmp_path: Path):
    from osiris_runtime.errors import ConfigError
    from osiris_runtime.secrets import parse_target

    with pytest.raises(ConfigError) as failure:
        parse_target("postgresql://app:Pa55-canary-e1@db:5432/x", "supabase")
    assert failure.value.code == "connection.invalid-ref" and "Pa55-canary-e1" not in failure.value.message


def test_doctor_never_shows_a_piece_of_a_conninfo_password(tmp_path: Path):
    (tmp_path / "osiris_connections.yaml").write_text("connections:\n  supabase:\n    kv:\n      dsn: ${I11_KV_DSN}\n")
    long_tail = "tailcanary" + "x" * 330  # echoed by libpq, longer than the message clip
    for tail in ("tail-canary-4e", long_tail):
        dsn = f"host=127.0.0.1 user=postgres password=abc {tail} dbname=test"
        result = osiris("connections", "doctor", "--json", cwd=tmp_path, env={"I11_KV_DSN": dsn})
        assert result.returncode == 5
        assert tail[:10] not in result.stdout + result.stderr, result.stdout
        assert '"***"' in json.loads(result.stdout)["results"]["@supabase.kv"]["message"]
