"""Opt-in conformance check against a real Supabase project (skipped unless its variables are set).

    SUPABASE_URL=https://<ref>.supabase.co SUPABASE_SERVICE_ROLE_KEY=... SUPABASE_TEST_TABLE=<a table> \\
        .venv/bin/pytest tests/supabase_rest/test_live_supabase.py -q

It only reads, so it cannot harm the project: the first rows of the table through the same paging,
OpenAPI description and type conversion that the fake-backed tests exercise.
"""

from __future__ import annotations

import os

import pytest

from osiris_runtime.drivers.base import StepContext
from osiris_runtime.drivers.supabase_rest import extract_rest

LIVE = {name: os.environ.get(name) for name in ("SUPABASE_URL", "SUPABASE_SERVICE_ROLE_KEY", "SUPABASE_TEST_TABLE")}

pytestmark = pytest.mark.skipif(not all(LIVE.values()), reason="set SUPABASE_URL, SUPABASE_SERVICE_ROLE_KEY, SUPABASE_TEST_TABLE")


def test_reads_the_first_rows_of_a_real_table():
    ctx = StepContext(
        step_id="live", component="supabase.extractor", mode="extract",
        config={"table": LIVE["SUPABASE_TEST_TABLE"], "limit": 5, "batch_size": 2},
        resolve_connection=lambda: {"url": LIVE["SUPABASE_URL"], "key": LIVE["SUPABASE_SERVICE_ROLE_KEY"]},
    )

    batches = list(extract_rest(ctx))

    assert batches and batches[0].schema.names
    assert sum(len(b) for b in batches) == ctx.rows_read <= 5
