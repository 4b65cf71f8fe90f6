"""A rotated password is picked up on reconnect; streaming a big CSV keeps memory flat."""

from __future__ import annotations

import threading
import time
import tracemalloc
from pathlib import Path

import runner_test_drivers as fakes
from conftest import pipeline, read_events, step

CONNECTIONS = """\
connections:
  canary:
    main:
      host: db.internal
      password: ${ROTATING_PASS}
"""


def test_a_password_rotated_mid_run_is_used_on_reconnect(run_pipeline, tmp_path: Path):
    (tmp_path / "osiris_connections.yaml").write_text(CONNECTIONS)
    secrets = tmp_path / "secrets.env"
    secrets.write_text("ROTATING_PASS=first-generation-pw\n")
    ready, gate = tmp_path / "ready", tmp_path / "gate"
    compiled = pipeline(step("conn", "UsesConnection", mode="write", component="canary.writer",
                             connection="@canary.main", ready_file=str(ready), gate_file=str(gate)))
    result = {}
    runner = threading.Thread(target=lambda: result.setdefault("summary", run_pipeline(
        compiled, connections_file=tmp_path / "osiris_connections.yaml", secrets_file=secrets, env={})))
    runner.start()
    deadline = time.time() + 10
    while not ready.exists() and time.time() < deadline:
        time.sleep(0.01)
    assert ready.exists(), "the driver never connected"
    secrets.write_text("ROTATING_PASS=second-generation-pw\n")  # rotate while the step is running
    gate.touch()
    runner.join(15)
    assert result["summary"].exit_code == 0
    first, second = fakes.RECORD["connections"]
    assert first["password"] == "first-generation-pw"
    assert second["password"] == "second-generation-pw"
    text = (result["summary"].run_dir / "events.jsonl").read_text()
    assert "generation-pw" not in text
    assert sum(e["event"] == "connection_resolved" for e in read_events(result["summary"].run_dir)) == 3


def write_csv(path: Path, rows: int) -> None:
    with path.open("w") as handle:
        handle.write("id,customer_id,amount,status,ordered_at\n")
        for i in range(rows):
            handle.write(f"{i},{i % 97},{i * 0.37:.2f},shipped,2024-01-01T10:00:00\n")


def peak_bytes(run_pipeline, tmp_path: Path, rows: int) -> int:
    source = tmp_path / f"in-{rows}.csv"
    write_csv(source, rows)
    compiled = pipeline(
        step("read", "osiris_runtime.drivers.filesystem.CsvExtractor", path=source.name, batch_size=1000),
        step("write", "osiris_runtime.drivers.filesystem.CsvWriter", mode="write", needs=["read"],
             path=f"out-{rows}.csv"),
    )
    tracemalloc.start()
    try:
        summary = run_pipeline(compiled, run_dir=tmp_path / f"run-{rows}")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert summary.exit_code == 0
    assert summary.totals["rows_written"] == rows
    return peak


def test_streaming_ten_times_more_rows_does_not_grow_peak_memory(run_pipeline, tmp_path: Path):
    small = peak_bytes(run_pipeline, tmp_path, 5_000)
    large = peak_bytes(run_pipeline, tmp_path, 50_000)
    assert large < small * 1.5, (small, large)
