"""The validated generation loop, driven by scripted generators (no network)."""

from __future__ import annotations

from osiris_runtime.ai.loop import Attempt, extract_oml, generate_pipeline
from osiris_runtime.registry import Registry

from .conftest import INLINE_PASSWORD

VALID = """oml_version: "0.1.0"
name: orders-copy
steps:
  - id: read-orders
    component: supabase.extractor
    mode: read
    config: {connection: "@supabase.main", table: orders}
  - id: write-orders
    component: supabase.writer
    mode: write
    needs: [read-orders]
    config: {connection: "@supabase.main", table: orders_copy, write_mode: upsert, primary_key: id}
"""
UNKNOWN_COMPONENT = VALID.replace("supabase.extractor", "supabase.reader")
NO_PRIMARY_KEY = VALID.replace(", primary_key: id", "")
INLINE_SECRET = VALID.replace("primary_key: id}", f"primary_key: id, password: {INLINE_PASSWORD}}}")


def scripted(*answers: str):
    calls: list[tuple[str, Attempt | None, str | None]] = []
    queue = list(answers)

    def generate(request: str, previous: Attempt | None, feedback: str | None) -> str:
        calls.append((request, previous, feedback))
        return queue.pop(0)

    return generate, calls


def test_extracts_a_fenced_block_bare_yaml_or_nothing():
    assert extract_oml(f"Sure!\n```yaml\n{VALID}```\nEnjoy.") == VALID
    assert extract_oml(f"```\n{VALID}```") == VALID
    assert extract_oml(f"Here:\n\n{VALID}") == VALID
    assert extract_oml("```python\nprint('hi')\n```") is None
    assert extract_oml("I cannot help with that.") is None
    # a shell block before the pipeline is skipped
    assert extract_oml(f"```sh\nosiris run p.yaml\n```\n```yml\n{VALID}```") == VALID


def test_stops_at_the_first_valid_answer(seed_registry: Registry):
    generate, calls = scripted(f"```yaml\n{VALID}```", "never asked")
    result = generate_pipeline("copy orders", generate, seed_registry)
    assert result.ok and len(result.attempts) == 1 and result.best.oml == VALID
    assert calls == [("copy orders", None, None)]


def test_feeds_back_code_path_line_and_fix_then_accepts_the_fixed_answer(seed_registry: Registry):
    generate, calls = scripted(UNKNOWN_COMPONENT, NO_PRIMARY_KEY, VALID)
    result = generate_pipeline("copy orders", generate, seed_registry)
    assert result.ok and [len(a.errors) for a in result.attempts] == [1, 1, 0]
    first_feedback = calls[1][2]
    assert calls[1][1] is result.attempts[0]
    assert "oml.unknown-component" in first_feedback and "line 5, column 16 (steps[0].component)" in first_feedback
    assert "Fix: did you mean" in first_feedback
    second_feedback = calls[2][2]
    assert "config.constraint" in second_feedback and "primary_key" in second_feedback


def test_an_inline_secret_is_masked_everywhere_and_never_accepted(seed_registry: Registry):
    generate, calls = scripted(INLINE_SECRET, INLINE_SECRET, INLINE_SECRET)
    result = generate_pipeline("copy orders", generate, seed_registry)
    assert not result.ok and len(result.attempts) == 3
    for attempt in result.attempts:
        assert attempt.holds_secret and any(p.code == "secret.inline" for p in attempt.problems)
        assert INLINE_PASSWORD not in attempt.answer and INLINE_PASSWORD not in (attempt.oml or "")
        assert all(INLINE_PASSWORD not in p.line_text() for p in attempt.problems)
    assert all(INLINE_PASSWORD not in (feedback or "") for _, _, feedback in calls)
    assert "password: ***" in result.best.oml


def test_a_secret_in_a_warning_only_field_still_blocks_the_answer(seed_registry: Registry):
    suspicious = VALID.replace("table: orders}", "table: orders, filter: {note: 'eq.postgres://u:s3cretpw@db/x'}}")
    generate, _ = scripted(suspicious)
    result = generate_pipeline("copy", generate, seed_registry, attempts=1)
    assert not result.ok and result.best.holds_secret and not result.best.errors
    assert "s3cretpw" not in result.best.oml


def test_bounded_attempts_return_the_best_one_with_its_remaining_errors(seed_registry: Registry):
    two_errors = UNKNOWN_COMPONENT.replace(", primary_key: id", "")
    generate, calls = scripted(two_errors, "no yaml here", UNKNOWN_COMPONENT, VALID)
    result = generate_pipeline("copy orders", generate, seed_registry, attempts=3)
    assert len(calls) == 3 and not result.ok
    assert result.best.number == 3 and [d.code for d in result.best.errors] == ["oml.unknown-component"]
    assert "did not contain an OML pipeline" in calls[2][2]


def test_each_attempt_reports_the_models_time_apart_from_ours(seed_registry: Registry):
    ticks = iter(float(t) for t in range(100))
    generate, _ = scripted(VALID)
    from osiris_runtime.ai.loop import GenerationLoop

    result = GenerationLoop(seed_registry, clock=lambda: next(ticks)).run("copy", generate)
    attempt = result.best
    assert attempt.model_ms == 1000.0 and attempt.validation_ms == 1000.0


def test_a_cancel_stops_the_loop_before_the_next_attempt_or_inside_one(seed_registry: Registry):
    import threading

    from osiris_runtime.ai.loop import GenerationCancelled, GenerationLoop

    cancel = threading.Event()
    asked: list[int] = []
    generate, calls = scripted(UNKNOWN_COMPONENT, VALID)

    def cancel_after_the_answer(request: str, previous: Attempt | None, feedback: str | None) -> str:
        answer = generate(request, previous, feedback)
        cancel.set()  # the user cancels while the first answer is being judged
        return answer

    result = GenerationLoop(seed_registry, cancel=cancel, on_ask=asked.append).run("copy", cancel_after_the_answer)
    assert result.cancelled and [a.number for a in result.attempts] == [1] and len(calls) == 1 and asked == [1]

    def cancelled_in_flight(request: str, previous: Attempt | None, feedback: str | None) -> str:
        raise GenerationCancelled()

    result = GenerationLoop(seed_registry).run("copy", cancelled_in_flight)
    assert result.cancelled and result.attempts == ()
