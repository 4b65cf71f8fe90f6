"""Run-time secrets: sources, connection resolution, rotation on reconnect, and the redactor."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from osiris_runtime.errors import ConfigError, ExitCode
from osiris_runtime.secrets import (
    ConnectionResolver,
    MIN_TEXT_SECRET_LENGTH,
    ConnectionTarget,
    Redactor,
    SecretSources,
    read_secrets_file,
)

CONNECTIONS = """\
connections:
  mysql:
    shop:
      default: true
      host: ${DB_HOST:-localhost}
      port: ${DB_PORT}
      user: app
      password: ${DB_PASS}
    other:
      host: db2
      password: literal-password-in-file
  supabase:
    main:
      url: https://example.supabase.co
      key: ${SB_KEY}
      dsn: postgresql://postgres:${SB_DB_PASS}@db.example:5432/postgres
"""


@pytest.fixture
def connections_file(tmp_path: Path) -> Path:
    path = tmp_path / "osiris_connections.yaml"
    path.write_text(CONNECTIONS)
    return path


def resolver(connections_file: Path, env: dict[str, str], secrets_file: Path | None = None) -> ConnectionResolver:
    return ConnectionResolver(connections_file, SecretSources(secrets_file, env), Redactor())


# --- sources ---------------------------------------------------------------------------------------

def test_a_dotenv_secrets_file_is_read(tmp_path: Path):
    path = tmp_path / "secrets.env"
    path.write_text("# comment\nDB_PASS=s3cret\nexport TOKEN='quoted value'\n")
    assert read_secrets_file(path) == {"DB_PASS": "s3cret", "TOKEN": "quoted value"}


def test_a_yaml_secrets_file_is_read(tmp_path: Path):
    path = tmp_path / "secrets.yaml"
    path.write_text("DB_PASS: s3cret\nDB_PORT: 3307\n")
    assert read_secrets_file(path) == {"DB_PASS": "s3cret", "DB_PORT": "3307"}


def test_a_nested_yaml_secrets_file_is_a_config_error(tmp_path: Path):
    path = tmp_path / "secrets.yml"
    path.write_text("db:\n  pass: x\n")
    with pytest.raises(ConfigError) as err:
        read_secrets_file(path)
    assert err.value.exit_code == ExitCode.CONFIG


def test_broken_yaml_secrets_are_reported_without_their_content(tmp_path: Path):
    path = tmp_path / "secrets.yaml"
    path.write_text("DB_PASS: [unclosed-canary-value\n")
    with pytest.raises(ConfigError) as err:
        read_secrets_file(path)
    assert "unclosed-canary-value" not in err.value.message


# --- resolution ------------------------------------------------------------------------------------

def test_variables_and_fallbacks_resolve_and_a_whole_placeholder_port_is_an_int(connections_file: Path):
    resolved = resolver(connections_file, {"DB_PORT": "3307", "DB_PASS": "pw-1"}).resolve(ConnectionTarget("mysql", "shop"))
    assert resolved == {"host": "localhost", "port": 3307, "user": "app", "password": "pw-1"}


def test_the_family_default_is_used_when_no_alias_is_given(connections_file: Path):
    resolved = resolver(connections_file, {"DB_PORT": "1", "DB_PASS": "x"}).resolve(ConnectionTarget("mysql"))
    assert resolved["user"] == "app"


def test_the_secrets_file_wins_over_the_environment(connections_file: Path, tmp_path: Path):
    secrets = tmp_path / ".env"
    secrets.write_text("DB_PASS=from-file\n")
    resolved = resolver(connections_file, {"DB_PORT": "1", "DB_PASS": "from-env"}, secrets).resolve(
        ConnectionTarget("mysql", "shop"))
    assert resolved["password"] == "from-file"


def test_an_unset_variable_is_exit_5_naming_the_variable_and_no_value(connections_file: Path):
    with pytest.raises(ConfigError) as err:
        resolver(connections_file, {"DB_PORT": "3307"}).resolve(ConnectionTarget("mysql", "shop"))
    assert err.value.exit_code == ExitCode.CONFIG
    assert err.value.code == "secret.unresolved"
    assert "DB_PASS" in err.value.message and "password" in err.value.message
    assert "3307" not in err.value.message


def test_an_unknown_alias_lists_the_known_ones(connections_file: Path):
    with pytest.raises(ConfigError) as err:
        resolver(connections_file, {}).resolve(ConnectionTarget("mysql", "nope"))
    assert "shop" in err.value.message and "other" in err.value.message


def test_resolved_secret_values_are_taught_to_the_redactor(connections_file: Path):
    r = resolver(connections_file, {"SB_KEY": "sb-key-canary", "SB_DB_PASS": "db pass/canary"})
    resolved = r.resolve(ConnectionTarget("supabase", "main"))
    text = f"failed: {resolved['dsn']} key={resolved['key']} raw {resolved['key']}"
    redacted = r.redactor.redact(text)
    assert "sb-key-canary" not in redacted and "db pass/canary" not in redacted
    assert "db%20pass%2Fcanary" not in r.redactor.redact("postgresql://u:db%20pass%2Fcanary@h/x")


def test_secrets_are_read_again_on_every_resolution(connections_file: Path, tmp_path: Path):
    secrets = tmp_path / "secrets.env"
    secrets.write_text("DB_PASS=old-password\nDB_PORT=3306\n")
    r = resolver(connections_file, {}, secrets)
    assert r.resolve(ConnectionTarget("mysql", "shop"))["password"] == "old-password"
    secrets.write_text("DB_PASS=rotated-password\nDB_PORT=3306\n")
    assert r.resolve(ConnectionTarget("mysql", "shop"))["password"] == "rotated-password"
    # Both generations stay hidden: the old one may still sit in a driver's error message.
    out = r.redactor.redact("old-password rotated-password")
    assert "old-password" not in out and "rotated-password" not in out


def test_resolving_from_several_threads_is_safe(connections_file: Path):
    r = resolver(connections_file, {"DB_PORT": "1", "DB_PASS": "p"})
    results: list[dict] = []
    threads = [threading.Thread(target=lambda: results.append(r.resolve(ConnectionTarget("mysql", "shop"))))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and all(x["password"] == "p" for x in results)


# --- redactor --------------------------------------------------------------------------------------

def test_secret_keys_are_masked_in_structures_and_primary_key_is_not():
    r = Redactor(secret_keys=["service_token"])
    out = r.redact({"password": "hunter22", "service_token": "abc", "primary_key": ["id"], "nested": [{"key": "k1"}]})
    assert out == {"password": "***", "service_token": "***", "primary_key": ["id"], "nested": [{"key": "***"}]}


def test_known_values_are_masked_anywhere_in_text_and_dsn_passwords_everywhere():
    r = Redactor(secret_values=["canary-123456"])
    assert r.redact("error near 'canary-123456' in query") == "error near '***' in query"
    assert r.redact("connect postgresql://u:unknownpw@h/db") == "connect postgresql://u:***@h/db"
    assert r.redact("password=abcdef retry") == "password=*** retry"
    assert r.redact({"n": 5, "ok": True, "none": None}) == {"n": 5, "ok": True, "none": None}


def test_very_short_values_are_only_masked_under_secret_keys():
    r = Redactor(secret_values=["ab"])
    assert r.redact("tabs and labs") == "tabs and labs"
    assert r.redact({"password": "ab"}) == {"password": "***"}


def test_the_redactor_never_mutates_its_input():
    data = {"password": "x1234", "list": ["x1234"]}
    Redactor(secret_values=["x1234"]).redact(data)
    assert data == {"password": "x1234", "list": ["x1234"]}


def test_redaction_of_a_large_event_is_fast():
    r = Redactor(secret_values=[f"secret-{i:04d}" for i in range(200)])
    record = {"event": "step_end", "step": "x", "message": "plain text " * 50}
    started = time.perf_counter()
    for _ in range(1000):
        r.redact(record)
    assert (time.perf_counter() - started) / 1000 < 0.002


def test_every_echoable_piece_of_a_secret_is_masked():
    redactor = Redactor()
    redactor.add_values(["host=127.0.0.1 user=postgres password=abc tail-canary-4e dbname=test", "correct horse battery"])
    echoed = 'missing "=" after "tail-canary-4e" in connection info string; word horse; battery staple'
    shown = redactor.redact(echoed)
    assert "tail-canary-4e" not in shown and "horse" not in shown and "battery" not in shown
    assert shown.startswith('missing "=" after "***"')


_words = st.lists(st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="'\\="),
                          min_size=MIN_TEXT_SECRET_LENGTH, max_size=12), min_size=2, max_size=4)


@settings(max_examples=100, deadline=None)
@given(words=_words, conninfo=st.booleans())
def test_no_piece_of_a_secret_survives_redaction(words, conninfo):
    """Property: whichever word of a secret (or of a conninfo password) a driver quotes, it is masked."""
    secret = " ".join(words)
    redactor = Redactor()
    redactor.add_values([f"host=h password={secret} dbname=d" if conninfo else secret])
    for word in words:
        assert word not in redactor.redact(f'error near "{word}" in the string')


def test_a_yaml_secrets_file_value_is_the_text_written(tmp_path: Path):
    path = tmp_path / "secrets.yaml"
    path.write_text("PIN: 0123456\nHEX: 0x1F2E\nFLAG: true\nFLOAT: 1.50\nDATE: 2024-01-02\nEMPTY:\nQUOTED: '007'\n")
    assert read_secrets_file(path) == {"PIN": "0123456", "HEX": "0x1F2E", "FLAG": "true", "FLOAT": "1.50",
                                       "DATE": "2024-01-02", "EMPTY": "", "QUOTED": "007"}


def test_a_dotenv_value_is_never_interpolated(tmp_path: Path):
    path = tmp_path / ".env"
    path.write_text("A='x${HOME}y'\nB=p@ss${word}\n")
    assert read_secrets_file(path) == {"A": "x${HOME}y", "B": "p@ss${word}"}


def test_mysqls_using_password_hint_is_kept_but_a_password_never():
    redactor = Redactor()
    assert redactor.redact("(1045) Access denied for user 'app'@'10.0.0.1' (using password: YES)").endswith(
        "(using password: YES)")
    assert redactor.redact("password: hunter2, password=abc") == "password: ***, password=***"
