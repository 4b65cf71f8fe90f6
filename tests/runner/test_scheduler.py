"""Ordering, parallel branches, fan-out read once, cancellation and exit codes of the local engine."""

from __future__ import annotations

import time

import pytest
import runner_test_drivers as fakes
from conftest import pipeline, read_events, step


@pytest.fixture(autouse=True)
def fresh_record():
    fakes.RECORD.clear()
    fakes.RECORD.update({"reads": {}, "order": [], "active": 0, "max_active": 0, "sink": {}})


def test_a_linear_pipeline_moves_every_row_and_exits_0(run_pipeline):
    summary = run_pipeline(pipeline(
        step("numbers", "Numbers", rows=103, batch=10),
        step("double", "Double", mode="transform", needs=["numbers"]),
        step("sink", "Sink", mode="write", needs=["double"]),
    ))
    assert summary.exit_code == 0 and summary.status == "ok"
    assert fakes.RECORD["sink"]["sink"] == (103, 2 * sum(range(103)))
    by_step = {o.step: o for o in summary.steps}
    assert by_step["numbers"].rows_read == 103
    assert by_step["sink"].rows_written == 103
    assert summary.totals["rows_read"] == 103 and summary.totals["rows_written"] == 103


def test_a_step_feeding_two_consumers_is_read_once(run_pipeline):
    summary = run_pipeline(pipeline(
        step("numbers", "Numbers", rows=1000, batch=7),
        step("left", "Sink", mode="write", needs=["numbers"]),
        step("right", "Sink", mode="write", needs=["numbers"]),
    ))
    assert summary.exit_code == 0
    assert fakes.RECORD["reads"] == {"numbers": 1}
    assert fakes.RECORD["sink"]["left"] == fakes.RECORD["sink"]["right"] == (1000, sum(range(1000)))


def test_a_source_is_offered_the_batch_forms_that_every_consumer_takes(run_pipeline):
    summary = run_pipeline(pipeline(
        step("alone", "Numbers", rows=3),
        step("lines", "LineSink", mode="write", needs=["alone"]),
        step("shared", "Numbers", rows=3),
        step("lines2", "LineSink", mode="write", needs=["shared"]),
        step("lines3", "LineSinkToo", mode="write", needs=["shared"]),
        step("mixed", "Numbers", rows=3),
        step("lines4", "LineSink", mode="write", needs=["mixed"]),
        step("values", "Sink", mode="write", needs=["mixed"]),
    ))
    assert summary.exit_code == 0
    assert fakes.RECORD["accept"] == {"alone": {"lines", "other"}, "shared": {"lines"}, "mixed": frozenset()}


def test_a_diamond_with_more_batches_than_the_channels_hold_does_not_deadlock(run_pipeline):
    summary = run_pipeline(pipeline(
        step("numbers", "Numbers", rows=500, batch=1),
        step("double", "Double", mode="transform", needs=["numbers"]),
        step("both", "Sink", mode="write", needs=["numbers", "double"]),
    ), channel_capacity=2)
    assert summary.exit_code == 0
    assert fakes.RECORD["sink"]["both"] == (1000, 3 * sum(range(500)))


def test_a_step_needing_a_writer_starts_after_the_writer_ends(run_pipeline):
    summary = run_pipeline(pipeline(
        step("first", "Numbers", rows=20, batch=5, sleep=0.01),
        step("load", "Sink", mode="write", needs=["first"]),
        step("second", "Numbers", rows=5, needs=["load"]),
        step("load2", "Sink", mode="write", needs=["second"]),
    ))
    assert summary.exit_code == 0
    order = fakes.RECORD["order"]
    assert order.index(("end", "load")) < order.index(("start", "second"))
    events = [e for e in read_events(summary.run_dir) if e["event"] in {"step_start", "step_end"}]
    starts = [e["step"] for e in events if e["event"] == "step_start"]
    assert starts.index("load") < starts.index("second")


def test_independent_branches_run_concurrently_up_to_max_parallel(run_pipeline):
    branches = [step(f"src{i}", "Numbers", rows=4, batch=1, sleep=0.05) for i in range(4)]
    sinks = [step(f"dst{i}", "Sink", mode="write", needs=[f"src{i}"]) for i in range(4)]
    compiled = pipeline(*[s for pair in zip(branches, sinks) for s in pair])

    started = time.perf_counter()
    assert run_pipeline(compiled, max_parallel=4).exit_code == 0
    parallel_seconds = time.perf_counter() - started
    parallel_peak = fakes.RECORD["max_active"]

    fakes.RECORD.update({"active": 0, "max_active": 0})
    started = time.perf_counter()
    summary = run_pipeline(compiled, max_parallel=1, run_dir=None, runs_root=compiled_runs_root())
    serial_seconds = time.perf_counter() - started
    assert summary.exit_code == 0
    # With one flow at a time, a source and its sink may overlap but two branches never do.
    assert fakes.RECORD["max_active"] <= 2
    assert parallel_peak >= 4
    assert serial_seconds > parallel_seconds * 1.8


def compiled_runs_root():
    import tempfile
    from pathlib import Path

    return Path(tempfile.mkdtemp(prefix="osiris-runner-test-"))


def test_the_first_failure_cancels_the_rest_and_exits_4(run_pipeline):
    summary = run_pipeline(pipeline(
        step("numbers", "Numbers", rows=10_000, batch=10, sleep=0.001),
        step("fails", "Boom", mode="write", needs=["numbers"], after=3, message="disk on fire"),
        step("slow", "Slow", mode="write", needs=[], seconds=10),
        step("later", "Numbers", rows=5, needs=["fails"]),
    ), max_parallel=4)
    assert summary.exit_code == 4
    assert summary.failed_step == "fails"
    assert "disk on fire" in summary.error.message
    statuses = {o.step: o.status for o in summary.steps}
    assert statuses == {"numbers": "cancelled", "fails": "failed", "slow": "cancelled", "later": "cancelled"}
    assert summary.duration_ms < 5000  # `slow` noticed the cancellation instead of sleeping 10 s
    events = read_events(summary.run_dir)
    assert [e["step"] for e in events if e["event"] == "step_failed"] == ["fails"]
    assert not any(e["event"] == "step_start" and e["step"] == "later" for e in events)
    assert events[-1]["event"] == "run_end" and events[-1]["exit_code"] == 4


def test_a_missing_driver_fails_before_anything_runs(run_pipeline):
    summary = run_pipeline(pipeline(
        step("numbers", "Numbers"),
        step("nowhere", "no_such_module.Writer", mode="write", needs=["numbers"]),
    ))
    assert summary.exit_code == 4
    assert summary.error.code == "run.driver-not-found"
    assert fakes.RECORD["reads"] == {}


def test_a_config_error_raised_by_a_driver_keeps_its_exit_code(run_pipeline):
    from osiris_runtime.errors import ConfigError

    class RaisesConfig:
        def __init__(self, ctx):
            pass

        def run(self, inputs):
            raise ConfigError("no such bucket", code="config.test")

    fakes.RaisesConfig = RaisesConfig
    summary = run_pipeline(pipeline(step("cfg", "RaisesConfig", mode="write")))
    assert summary.exit_code == 5 and summary.error.code == "config.test"


def test_ctrl_c_cancels_the_running_steps_and_still_writes_the_artifacts(run_pipeline):
    import _thread
    import threading

    timer = threading.Timer(0.3, _thread.interrupt_main)
    timer.start()
    summary = run_pipeline(pipeline(step("slow", "Slow", mode="write", seconds=10)))
    timer.cancel()
    assert summary.exit_code == 130 and summary.error.code == "run.interrupted"
    assert summary.duration_ms < 5000
    assert (summary.run_dir / "status.json").exists()
    assert [o.status for o in summary.steps] == ["cancelled"]


def test_reusing_an_out_directory_keeps_only_this_runs_files(run_pipeline, tmp_path):
    run_pipeline(pipeline(step("old", "Numbers"), step("old-sink", "Sink", mode="write", needs=["old"])))
    summary = run_pipeline(pipeline(step("new", "Numbers")))
    assert sorted(p.name for p in (summary.run_dir / "cfg").iterdir()) == ["new.json"]
    assert {e["run_id"] for e in read_events(summary.run_dir)} == {summary.run_id}
