"""The LLM context: minimal, deterministic, secret-free, small, and stale when a spec changes."""

from __future__ import annotations

import json
from pathlib import Path

from osiris_runtime.ai.context import (
    build_context,
    cached_context,
    context_fingerprint,
    count_tokens,
    is_stale,
    write_context_file,
)
from osiris_runtime.ai.prompt import load_template, render_system_prompt
from osiris_runtime.oml.connections import parse_connections
from osiris_runtime.registry import Registry

from .conftest import CONNECTIONS_YAML, SEED_COMPONENTS, osiris, seed_specs


def test_the_four_seed_components_fit_in_under_1500_tokens(seed_registry: Registry):
    context = build_context(seed_registry)
    assert [c["name"] for c in context.data["components"]] == sorted(SEED_COMPONENTS)
    assert count_tokens(context.text) < 1500
    assert context.size_bytes == len(context.text.encode())


def test_the_same_registry_gives_the_same_bytes(tmp_path: Path):
    first = build_context(Registry([seed_specs(tmp_path / "a")])).text
    second = build_context(Registry([seed_specs(tmp_path / "b")])).text
    assert first == second  # the spec files' location is not part of the context


def test_a_component_shows_modes_required_enums_defaults_and_at_most_two_examples(seed_registry: Registry):
    writer = next(c for c in build_context(seed_registry).data["components"] if c["name"] == "supabase.writer")
    assert writer["modes"] == ["write"]
    assert writer["connection"] == "@supabase.<alias>"
    assert writer["required"] == ["table"]  # url and key come from the connection
    assert writer["enums"]["write_mode"] == ["append", "replace", "upsert"]
    assert writer["defaults"]["write_mode"] == "append"
    assert 1 <= len(writer["examples"]) <= 2
    assert "upsert" in writer["hint"]


def test_no_secret_or_connection_field_is_shown(seed_registry: Registry):
    text = build_context(seed_registry).text
    for field in ('"password"', '"key"', '"dsn"', '"url"', '"host"', '"user"'):
        assert field not in text


def test_connection_aliases_are_names_only():
    conns = parse_connections(CONNECTIONS_YAML)
    from osiris_runtime.registry import BUILTIN_COMPONENTS_DIR

    context = build_context(Registry([BUILTIN_COMPONENTS_DIR]), conns)
    assert context.data["connections"] == {"mysql": ["shop"], "supabase": ["analytics", "main"]}
    for value in ("127.0.0.1", "abcd.supabase.co", "MYSQL_PASSWORD", "SUPABASE_KEY", "reader"):
        assert value not in context.text


def test_fingerprint_changes_with_any_spec_edit_and_with_aliases(tmp_path: Path):
    specs = seed_specs(tmp_path / "c")
    registry = Registry([specs])
    before = context_fingerprint(registry)
    spec = specs / "mysql.writer" / "spec.yaml"
    spec.write_text(spec.read_text().replace("Rows per INSERT round trip.", "Rows per INSERT."))
    assert context_fingerprint(registry) != before
    assert context_fingerprint(registry, parse_connections(CONNECTIONS_YAML)) != context_fingerprint(registry)


def test_staleness_is_detected_from_the_fingerprint(tmp_path: Path):
    specs = seed_specs(tmp_path / "d")
    registry = Registry([specs])
    path = tmp_path / "context.json"
    assert is_stale(path, registry)  # missing
    write_context_file(build_context(registry), path)
    assert not is_stale(path, registry)
    spec = specs / "supabase.writer" / "spec.yaml"
    spec.write_text(spec.read_text().replace("default: 500", "default: 400"))
    assert is_stale(path, registry)


def test_the_cache_is_keyed_by_fingerprint_and_rebuilds_after_a_spec_change(tmp_path: Path):
    specs = seed_specs(tmp_path / "e")
    registry = Registry([specs])
    cache = tmp_path / "cache"
    first = cached_context(registry, cache_dir=cache)
    assert [p.name for p in cache.iterdir()] == [first.fingerprint.removeprefix("sha256:") + ".json"]
    assert cached_context(registry, cache_dir=cache).text == first.text
    spec = specs / "supabase.writer" / "spec.yaml"
    spec.write_text(spec.read_text().replace("default: 500", "default: 400"))
    second = cached_context(registry, cache_dir=cache)
    assert second.fingerprint != first.fingerprint
    writer = next(c for c in second.data["components"] if c["name"] == "supabase.writer")
    assert writer["defaults"]["batch_size"] == 400


def test_system_prompt_carries_the_context_and_can_be_overridden(tmp_path: Path, seed_registry: Registry):
    context = build_context(seed_registry)
    packaged = render_system_prompt(context.text)
    assert context.text in packaged and "```yaml" in packaged
    own = tmp_path / "prompt.md"
    own.write_text("Write OML.\n{{context}}\nThat is all.")
    assert render_system_prompt(context.text, load_template(own)) == f"Write OML.\n{context.text}\nThat is all."
    env_only = tmp_path / "bare.md"
    env_only.write_text("Only this.")
    assert render_system_prompt("CTX", load_template(env={"OSIRIS_SYSTEM_PROMPT": str(env_only)})) == "Only this.\n\nCTX\n"


def test_cli_writes_once_then_check_fails_when_a_spec_changes(tmp_path: Path):
    project = tmp_path / "proj"
    seed_specs(project / "components")  # workspace components override the built-ins (same content)
    built = osiris("prompts", "build-context", "--json", cwd=project)
    assert built.returncode == 0, built.stderr
    report = json.loads(built.stdout)
    assert report["written"] and report["tokens"] > 0 and report["bytes"] == (project / ".osiris_prompts/context.json").stat().st_size - 1
    again = osiris("prompts", "build-context", cwd=project)
    assert again.returncode == 0 and "up to date" in again.stderr and "tokens" in again.stderr
    assert osiris("prompts", "build-context", "--check", cwd=project).returncode == 0
    spec = project / "components" / "supabase.writer" / "spec.yaml"
    spec.write_text(spec.read_text().replace("default: 500", "default: 250"))
    stale = osiris("prompts", "build-context", "--check", cwd=project)
    assert stale.returncode == 1 and "stale" in stale.stderr
    assert osiris("prompts", "build-context", cwd=project).returncode == 0
    assert osiris("prompts", "build-context", "--check", cwd=project).returncode == 0


def test_cli_check_of_a_missing_file_exits_1(tmp_path: Path):
    result = osiris("prompts", "build-context", "--check", "--out", "nowhere/context.json", cwd=tmp_path)
    assert result.returncode == 1 and "missing" in result.stderr
    assert not (tmp_path / "nowhere").exists()
