"""The registry: search path and overrides, invalid specs, versions, caching and thread safety."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from osiris_runtime.errors import ExitCode, Severity, ValidationFailed
from osiris_runtime.registry import (
    BUILTIN_COMPONENTS_DIR,
    Registry,
    SpecCache,
    UnknownComponent,
    default_cache_dir,
    default_search_paths,
    load_spec_file,
    spec_schema_validator,
)

from .conftest import BUILTIN_NAMES, SpecWriter, builtin_spec, minimal_spec


def _bump_mtime(path: Path) -> None:
    # Some filesystems have coarse mtimes; make the change visible regardless.
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))


def test_default_registry_lists_the_four_builtin_components():
    registry = Registry()
    assert set(BUILTIN_NAMES) <= set(registry.names())
    assert registry.problems() == []
    spec = registry.require("mysql.extractor")
    assert (spec.family, spec.version, spec.driver) == ("mysql", "1.0.0", "osiris_runtime.drivers.mysql.MySQLExtractor")
    assert spec.doc_url == "docs/components/mysql.extractor.md"
    assert spec.fingerprint.startswith("sha256:") and len(spec.fingerprint) == 71


def test_the_decided_driver_paths_and_connection_fields():
    registry = Registry()
    drivers = {n: registry.require(n).driver for n in BUILTIN_NAMES}
    assert drivers == {
        "mysql.extractor": "osiris_runtime.drivers.mysql.MySQLExtractor",
        "mysql.writer": "osiris_runtime.drivers.mysql.MySQLWriter",
        "supabase.extractor": "osiris_runtime.drivers.supabase.SupabaseExtractor",
        "supabase.writer": "osiris_runtime.drivers.supabase.SupabaseWriter",
    }
    mysql = {f.name: f.override for f in registry.require("mysql.writer").connection_fields.values()}
    assert mysql == {"host": "allowed", "port": "allowed", "database": "forbidden", "user": "forbidden", "password": "forbidden"}
    supa = {f.name: f.override for f in registry.require("supabase.extractor").connection_fields.values()}
    assert supa == {"url": "allowed", "key": "forbidden", "dsn": "forbidden", "host": "allowed", "port": "allowed",
                    "database": "allowed", "user": "allowed", "password": "forbidden", "sslmode": "allowed"}
    assert registry.require("mysql.writer").config_aliases == {"mode": "write_mode", "upsert_keys": "primary_key",
                                                                "create_table": "create_if_missing"}


def test_get_secret_map_returns_secrets_and_redaction_extras():
    registry = Registry()
    mysql = registry.get_secret_map("mysql.extractor")
    assert "/password" in mysql.secrets and "/resolved_connection/password" in mysql.secrets
    assert mysql.redaction_extras == ("/host", "/user")
    assert mysql.secret_keys == {"password"}
    supa = registry.get_secret_map("supabase.writer")
    assert supa.secret_keys == {"key", "password", "dsn"}
    assert registry.require("supabase.writer").secrets == ("/key", "/password", "/dsn")
    with pytest.raises(UnknownComponent):
        registry.get_secret_map("nope.writer")


def test_unknown_component_fails_validation_with_did_you_mean():
    registry = Registry()
    assert registry.get("mysql.extrator") is None
    with pytest.raises(ValidationFailed) as caught:
        registry.require("mysql.extrator")
    assert caught.value.exit_code == ExitCode.VALIDATION
    assert caught.value.code == "spec.unknown-component"
    assert caught.value.suggestions == ("mysql.extractor",)
    assert "did you mean `mysql.extractor`?" in caught.value.fix
    assert registry.suggest("supabase") == ["supabase.extractor", "supabase.writer"]
    with pytest.raises(ValidationFailed) as nothing_close:
        registry.require("zzz")
    assert "osiris components list" in nothing_close.value.fix


def test_search_path_order_builtin_then_workspace_then_env(tmp_path: Path, write_spec: SpecWriter):
    workspace = tmp_path / "ws"
    extra_a, extra_b = tmp_path / "a", tmp_path / "b"
    env = {"OSIRIS_COMPONENTS_PATH": os.pathsep.join([str(extra_a), "", str(extra_b)])}
    paths = default_search_paths(workspace, env)
    assert paths == [BUILTIN_COMPONENTS_DIR, workspace / "components", extra_a, extra_b]

    write_spec(workspace / "components", minimal_spec("mysql.extractor", version="1.1.0"))
    write_spec(extra_b, minimal_spec("mysql.extractor", version="1.2.0"))
    write_spec(extra_a, minimal_spec("acme.extractor"))
    registry = Registry(paths)
    assert registry.require("mysql.extractor").version == "1.2.0"  # the last entry wins
    assert "acme.extractor" in registry.names() and "supabase.writer" in registry.names()


def test_default_search_paths_use_cwd_and_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OSIRIS_COMPONENTS_PATH", str(tmp_path / "more"))
    assert default_search_paths() == [BUILTIN_COMPONENTS_DIR, tmp_path / "components", tmp_path / "more"]


def test_the_repository_components_folder_is_not_listed_twice():
    repo = BUILTIN_COMPONENTS_DIR.resolve().parent
    assert default_search_paths(repo, {}) == [repo / "components"]


def test_an_invalid_spec_is_reported_and_the_others_still_load(tmp_path: Path, write_spec: SpecWriter):
    bad = minimal_spec("acme.writer", modes=["teleport"])
    bad_path = write_spec(tmp_path, bad)
    write_spec(tmp_path, minimal_spec("acme.extractor"))
    write_spec(tmp_path, "name: [unclosed", folder="broken.yaml")
    registry = Registry([tmp_path])
    assert registry.names() == ["acme.extractor"]
    problems = {(Path(p.source).parent.name, p.code): p for p in registry.problems()}
    invalid = problems[("acme.writer", "spec.invalid")]
    assert invalid.source == str(bad_path)
    assert invalid.data["field"] == "/modes/0"
    assert "use one of" in invalid.fix
    assert invalid.range.start.line > 0  # placed on the offending line
    assert ("broken.yaml", "spec.unreadable") in problems


def test_a_spec_of_an_unsupported_major_version_is_refused(tmp_path: Path, write_spec: SpecWriter):
    write_spec(tmp_path, minimal_spec("acme.extractor", version="2.0.0"))
    registry = Registry([tmp_path])
    assert registry.get("acme.extractor") is None
    (problem,) = registry.problems()
    assert problem.code == "spec.unsupported-version"
    assert "2.0.0" in problem.message and "1.x" in problem.message
    assert problem.data["field"] == "/version"


def test_prerelease_versions_are_accepted_and_the_version_is_exposed(tmp_path: Path, write_spec: SpecWriter):
    write_spec(tmp_path, minimal_spec("acme.extractor", version="1.4.0-rc.1+build.5"))
    spec = Registry([tmp_path]).require("acme.extractor")
    assert (spec.version, spec.major_version) == ("1.4.0-rc.1+build.5", 1)


def test_spec_json_files_and_folder_name_mismatch(tmp_path: Path, write_spec: SpecWriter):
    write_spec(tmp_path, minimal_spec("acme.extractor"), folder="acme-extractor", filename="spec.json")
    registry = Registry([tmp_path])
    assert registry.names() == ["acme.extractor"]
    (warning,) = registry.problems()
    assert (warning.code, warning.severity) == ("spec.name-mismatch", Severity.WARNING)


def test_broken_json_spec_is_unreadable(tmp_path: Path, write_spec: SpecWriter):
    write_spec(tmp_path, "{", folder="acme.extractor", filename="spec.json")
    (problem,) = Registry([tmp_path]).problems()
    assert problem.code == "spec.unreadable" and "line 1" in problem.message


def test_edits_additions_and_removals_are_seen_without_a_new_registry(tmp_path: Path, write_spec: SpecWriter):
    path = write_spec(tmp_path, minimal_spec("acme.extractor"))
    registry = Registry([tmp_path])
    first = registry.require("acme.extractor")
    assert registry.require("acme.extractor") is first  # cached while nothing changed

    path.write_text(json.dumps(minimal_spec("acme.extractor", version="1.0.1")))
    _bump_mtime(path)
    second = registry.require("acme.extractor")
    assert second.version == "1.0.1" and second.fingerprint != first.fingerprint

    write_spec(tmp_path, minimal_spec("acme.writer", modes=["write"]))
    assert registry.names() == ["acme.extractor", "acme.writer"]

    path.unlink()
    assert registry.names() == ["acme.writer"]

    # a spec turning invalid disappears and is reported; fixing it brings it back
    writer = tmp_path / "acme.writer" / "spec.yaml"
    writer.write_text(json.dumps(minimal_spec("acme.writer", modes=[])))
    _bump_mtime(writer)
    assert registry.names() == [] and registry.problems()[0].code == "spec.invalid"
    writer.write_text(json.dumps(minimal_spec("acme.writer", modes=["write"])))
    _bump_mtime(writer)
    assert registry.names() == ["acme.writer"] and registry.problems() == []


def test_a_search_path_folder_that_appears_later_is_picked_up(tmp_path: Path, write_spec: SpecWriter):
    later = tmp_path / "not-yet"
    registry = Registry([later])
    assert registry.names() == []
    write_spec(later, minimal_spec("acme.extractor"))
    assert registry.names() == ["acme.extractor"]


def test_concurrent_readers_and_a_writer_never_see_a_broken_state(tmp_path: Path, write_spec: SpecWriter):
    path = write_spec(tmp_path, minimal_spec("acme.extractor"))
    registry = Registry([tmp_path])
    errors: list[BaseException] = []
    stop = threading.Event()

    def read() -> None:
        try:
            while not stop.is_set():
                spec = registry.require("acme.extractor")
                assert spec.version in {f"1.0.{i}" for i in range(40)}
                assert registry.names() == ["acme.extractor"]
        except BaseException as exc:  # noqa: BLE001 - surface any failure of a reader thread
            errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(4)]
    for t in readers:
        t.start()
    for i in range(40):
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(minimal_spec("acme.extractor", version=f"1.0.{i}")))
        os.replace(tmp, path)  # atomic, as editors save
        _bump_mtime(path)
    stop.set()
    for t in readers:
        t.join()
    assert errors == []
    assert registry.require("acme.extractor").version == "1.0.39"


def test_the_disk_cache_remembers_checked_specs_by_content(tmp_path: Path, write_spec: SpecWriter):
    path = write_spec(tmp_path / "specs", minimal_spec("acme.extractor"))
    cache = SpecCache(tmp_path / "cache")
    calls: list[int] = []

    def counting_validator():
        calls.append(1)
        return spec_schema_validator()

    first = load_spec_file(path, counting_validator, cache)
    again = load_spec_file(path, counting_validator, cache)
    assert len(calls) == 1  # the second load skipped parsing and schema validation
    assert again.spec is not None and again.spec.fingerprint == first.spec.fingerprint

    # a corrupt cache entry is ignored, and an invalid spec is never cached
    for entry in (tmp_path / "cache").iterdir():
        entry.write_text("{not json")
    assert load_spec_file(path, counting_validator, cache).spec is not None
    bad = write_spec(tmp_path / "specs", minimal_spec("acme.writer", modes=[]))
    assert load_spec_file(bad, counting_validator, cache).spec is None
    assert load_spec_file(bad, counting_validator, cache).spec is None
    assert len(calls) == 4


def test_registry_with_a_cache_dir_gives_the_same_specs(tmp_path: Path):
    plain = Registry([BUILTIN_COMPONENTS_DIR])
    Registry([BUILTIN_COMPONENTS_DIR], cache_dir=tmp_path).specs()  # fills the cache
    cached = Registry([BUILTIN_COMPONENTS_DIR], cache_dir=tmp_path)
    assert [s.fingerprint for s in cached.specs()] == [s.fingerprint for s in plain.specs()]
    assert len(list(tmp_path.glob("*.json"))) == len(plain.specs())


def test_an_unwritable_cache_dir_is_ignored(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    registry = Registry([BUILTIN_COMPONENTS_DIR], cache_dir=blocker / "specs")
    assert set(BUILTIN_NAMES) <= set(registry.names())


def test_default_cache_dir_follows_the_environment(tmp_path: Path):
    assert default_cache_dir({"OSIRIS_CACHE_DIR": str(tmp_path)}) == tmp_path / "specs"
    assert default_cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "osiris" / "specs"
    assert default_cache_dir({}) == Path.home() / ".cache" / "osiris" / "specs"


def test_spec_views_for_callers():
    spec = Registry().require("supabase.writer")
    assert spec.required == ("url", "key", "table")
    assert "write_mode" in spec.properties
    assert spec.secret_roots == {"key", "password", "dsn"}
    assert spec.runnable
    raw = builtin_spec("supabase.writer")
    assert spec.raw == raw


def test_a_spec_without_a_canonical_form_still_gets_a_stable_fingerprint(tmp_path: Path, write_spec: SpecWriter):
    text = json.dumps(minimal_spec("acme.extractor"), indent=2).replace('"minimum": 1', '"minimum": 1, "default": .nan')
    write_spec(tmp_path, text, folder="acme.extractor")
    first = Registry([tmp_path]).require("acme.extractor")
    again = Registry([tmp_path]).require("acme.extractor")
    assert first.fingerprint == again.fingerprint and first.fingerprint.startswith("sha256:")


ORIGINAL_SPECS = Path(__file__).parent / "data" / "original_specs"


def test_specs_written_for_the_original_load_with_only_a_many_examples_warning():
    from osiris_runtime.registry import check_examples

    registry = Registry([ORIGINAL_SPECS])
    assert {s.name for s in registry.specs()} == {"filesystem.csv_writer", "graphql.extractor"}
    problems = registry.problems()
    assert [(p.code, p.severity.label) for p in problems] == [("spec.many-examples", "warning")] * 2
    graphql = next(p for p in problems if "graphql" in str(p.source))
    assert "4 examples" in graphql.message and "first 2" in graphql.message
    assert all(check_examples(spec) == [] for spec in registry.specs())


def test_a_plain_value_under_must_means_must_equal_and_reports_the_specs_own_error():
    from osiris_runtime.friendly import validate_config

    csv_writer = Registry([ORIGINAL_SPECS]).require("filesystem.csv_writer")
    (error,) = validate_config(csv_writer, {"path": "o.tsv", "delimiter": "\t", "encoding": "latin-1"})
    assert (error.code, error.problem, error.path) == ("config.constraint", "Tab-separated files must be written as UTF-8", ("encoding",))
    assert error.data["replacement"] == "utf-8"
    assert validate_config(csv_writer, {"path": "o.tsv", "delimiter": "\t"}) == []  # the default is utf-8
    assert validate_config(csv_writer, {"path": "o.csv", "encoding": "latin-1"}) == []  # rule does not apply
    graphql = Registry([ORIGINAL_SPECS]).require("graphql.extractor")
    base = {"endpoint": "https://api.example.com/graphql", "query": "{ a }", "auth_type": "bearer"}
    assert [e.problem for e in validate_config(graphql, {**base, "validate_ssl": False})] == [
        "bearer tokens are only sent over verified TLS"]
    assert validate_config(graphql, base) == []
