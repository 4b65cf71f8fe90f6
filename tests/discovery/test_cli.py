"""`osiris discover` end to end: the cache file, reuse, --check, --max-age, failures like doctor."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_discover_writes_a_deterministic_cache_without_secrets(workspace: Path, run_osiris, mysql_db: str):
    result = run_osiris("discover", "@mysql.shop", "--json", cwd=workspace, env={"I14_MYSQL_PW": ""})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    [shop] = report["results"]
    assert shop["state"] == "discovered" and shop["tables"] == 5 and shop["views"] == 1
    cache = workspace / ".osiris" / "discovery" / "mysql.shop.json"
    data = json.loads(cache.read_text())
    assert data["connection"] == "@mysql.shop" and data["fingerprint"].startswith("sha256:")
    assert data["identity_fields"] == ["database", "host", "port", "user"]
    assert "127.0.0.1" not in cache.read_text() and "root" not in cache.read_text()  # names, never values
    first_hash = data["schema_hash"]
    again = run_osiris("discover", "@mysql.shop", "--refresh", "--json", cwd=workspace)
    assert json.loads(again.stdout)["results"][0]["schema_hash"] == first_hash
    tables = json.loads(cache.read_text())["tables"]
    assert [t["name"] for t in tables] == sorted(t["name"] for t in tables)


def test_a_fresh_cache_is_reused_and_refresh_forces(workspace: Path, run_osiris):
    assert run_osiris("discover", "@supabase.warehouse", cwd=workspace).returncode == 0
    second = json.loads(run_osiris("discover", "@supabase.warehouse", "--json", cwd=workspace).stdout)
    assert second["results"][0]["state"] == "cached"
    third = json.loads(run_osiris("discover", "@supabase.warehouse", "--refresh", "--json", cwd=workspace).stdout)
    assert third["results"][0]["state"] == "discovered"


def test_summary_table_lists_each_alias(workspace: Path, run_osiris):
    result = run_osiris("discover", "@supabase.warehouse", "@mysql.shop", cwd=workspace)
    assert result.returncode == 0, result.stderr
    assert "@supabase.warehouse" in result.stdout and "@mysql.shop" in result.stdout
    assert "supabase.warehouse.json" in result.stdout and "discovered" in result.stdout


def test_check_reports_missing_stale_and_changed_connections(workspace: Path, run_osiris, mysql_db: str):
    missing = run_osiris("discover", "@mysql.shop", "--check", cwd=workspace)
    assert missing.returncode == 5 and "MISSING" in missing.stdout
    assert run_osiris("discover", "@mysql.shop", cwd=workspace).returncode == 0
    assert run_osiris("discover", "@mysql.shop", "--check", cwd=workspace).returncode == 0
    stale = run_osiris("discover", "@mysql.shop", "--check", "--max-age", "0s", "--json", cwd=workspace)
    assert stale.returncode == 5 and json.loads(stale.stdout)["caches"][0]["state"] == "stale"
    conns = workspace / "osiris_connections.yaml"
    conns.write_text(conns.read_text().replace("port: 3306", "port: 3307"))
    changed = run_osiris("discover", "@mysql.shop", "--check", "--json", cwd=workspace)
    assert json.loads(changed.stdout)["caches"][0]["state"] == "mismatched"


def test_a_refused_connection_fails_like_doctor_without_traceback_or_secret(workspace: Path, run_osiris):
    result = run_osiris("discover", "@mysql.refused", cwd=workspace)
    assert result.returncode == 5
    assert "FAIL refused" in result.stdout
    assert "Traceback" not in result.stderr and "refused-canary-7a1c" not in result.stdout + result.stderr
    as_json = json.loads(run_osiris("discover", "@mysql.refused", "--json", cwd=workspace).stdout)
    assert as_json["ok"] is False and as_json["results"][0]["category"] == "refused"


def test_bad_max_age_is_a_usage_error(workspace: Path, run_osiris):
    result = run_osiris("discover", "--max-age", "soon", cwd=workspace)
    assert result.returncode == 2 and "not a duration" in result.stderr
