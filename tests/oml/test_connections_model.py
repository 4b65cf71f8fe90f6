"""The connections file model: aliases, defaults, references, env substitution, discovery."""

from pathlib import Path

from osiris_runtime.oml.connections import (
    find_connections_file,
    load_connections,
    parse_connection_ref,
    parse_connections,
    substitute_env,
)

CONNECTIONS = """\
version: 1
connections:
  mysql:
    shop:
      host: db.internal
      password: ${MYSQL_PASSWORD}
    backup:
      default: true
      host: backup.internal
  supabase:
    default:
      url: https://abc.supabase.co
"""


def test_aliases_keep_raw_values_and_positions():
    conns = parse_connections(CONNECTIONS)
    assert conns.families() == ["mysql", "supabase"]
    shop = conns.get("mysql", "shop")
    assert shop is not None
    assert shop.fields == {"host": "db.internal", "password": "${MYSQL_PASSWORD}"}
    assert shop.range.start.line == 3
    assert shop.field_ranges["password"].start.line == 5
    assert conns.diagnostics == ()


def test_default_alias_prefers_the_flag_then_the_name_default():
    conns = parse_connections(CONNECTIONS)
    assert conns.get("mysql").alias == "backup"
    assert "default" not in conns.get("mysql").fields
    assert conns.get("supabase").alias == "default"
    assert conns.get("postgres") is None


def test_more_than_one_default_is_a_warning():
    conns = parse_connections("connections:\n  m:\n    a: {default: true}\n    b: {default: true}\n")
    assert [d.code for d in conns.diagnostics] == ["connection.multiple-defaults"]
    assert conns.diagnostics[0].range.start.line == 3


def test_shape_errors_are_located():
    conns = parse_connections("connections:\n  mysql: 3\n")
    assert [d.code for d in conns.diagnostics] == ["connection.invalid-file"]
    assert conns.diagnostics[0].range.start.line == 1


def test_parse_connection_ref():
    assert parse_connection_ref("@mysql.shop") == ("mysql", "shop")
    assert parse_connection_ref("@mysql") == ("mysql", None)
    assert parse_connection_ref("mysql.shop") is None
    assert parse_connection_ref("@mysql.shop.x") is None
    assert parse_connection_ref(3) is None  # type: ignore[arg-type]


def test_substitute_env_both_forms():
    env = {"A": "1", "EMPTY": ""}
    assert substitute_env("${A}-${B}", env.get) == ("1-${B}", ["B"])
    assert substitute_env("${B:-x}/${EMPTY:-y}/${A:-z}", env.get) == ("x/y/1", [])
    assert substitute_env("${EMPTY}", env.get) == ("${EMPTY}", ["EMPTY"])
    assert substitute_env("${B:-}", env.get) == ("", [])
    assert substitute_env("no refs", env.get) == ("no refs", [])


def test_find_connections_file_walks_up_and_honours_explicit_and_env(tmp_path: Path):
    (tmp_path / "osiris_connections.yaml").write_text(CONNECTIONS)
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    pipeline = nested / "p.yaml"
    pipeline.write_text("")
    assert find_connections_file(pipeline, {}) == (tmp_path / "osiris_connections.yaml").resolve()
    assert find_connections_file(pipeline, {"OSIRIS_CONNECTIONS": "/x.yaml"}) == Path("/x.yaml")
    assert find_connections_file(pipeline, {"OSIRIS_CONNECTIONS": "/x.yaml"}, Path("/y.yaml")) == Path("/y.yaml")


def test_missing_file_is_a_diagnostic(tmp_path: Path):
    conns = load_connections(tmp_path / "nope.yaml")
    assert [d.code for d in conns.diagnostics] == ["connection.no-file"]
    assert conns.families() == []


def test_aliases_are_checked_against_the_fields_their_family_reads(registry):
    from osiris_runtime.oml.connections import validate_connections

    conns = parse_connections(
        "connections:\n"
        "  mysql:\n"
        "    shop:\n"
        "      hots: db\n"            # line 4: typo
        "      database: d\n"
        "      user: u\n"
        "      password: hunter2\n"   # line 7: literal secret
        "  supabase:\n"
        "    main: {url: 'https://a.supabase.co', service_role_key: '${K}'}\n"
        "  duckdb:\n"
        "    local: {path: x.db}\n"  # no duckdb component in the fixture registry: not checked
    )
    by_code = {d.code: d for d in validate_connections(conns, registry)}
    assert set(by_code) == {"connection.unknown-field", "connection.literal-secret", "connection.missing-field"}
    assert by_code["connection.unknown-field"].range.start.line == 3
    assert by_code["connection.unknown-field"].data == {"replacement": "host"}
    assert by_code["connection.literal-secret"].range.start.line == 6
    assert "hunter2" not in by_code["connection.literal-secret"].message
    assert by_code["connection.missing-field"].data == {"missing": ["host"]}
    assert all(not d.is_error for d in by_code.values())


def test_well_formed_connections_have_no_field_problems(registry):
    from osiris_runtime.oml.connections import validate_connections

    conns = parse_connections(CONNECTIONS.replace("      host: backup.internal\n", "      host: b\n      database: d\n      user: u\n      password: ${P}\n")
                              .replace("      host: db.internal\n", "      host: db.internal\n      database: d\n      user: u\n")
                              .replace("      url: https://abc.supabase.co\n", "      url: https://abc.supabase.co\n      key: ${SUPABASE_KEY}\n"))
    assert validate_connections(conns, registry) == []


def test_env_references_lists_names_in_order():
    from osiris_runtime.oml.connections import env_references

    assert env_references({"a": "${A}", "b": ["x ${B:-1} ${A}", {"c": "${C}"}], "d": 3}) == ["A", "B", "C"]


def test_a_connections_value_that_is_not_a_mapping_is_a_diagnostic_not_a_crash():
    for text in ("connections: [not, a, mapping]", "connections: 3", "connections: 'x'"):
        conns = parse_connections(text)
        assert [d.code for d in conns.diagnostics] == ["connection.invalid-file"], text
        assert conns.families() == []


def test_parsing_any_text_never_raises():
    from hypothesis import given, settings, strategies as st

    @settings(max_examples=200, deadline=None)
    @given(st.text(max_size=200))
    def check(text: str) -> None:
        parse_connections(text)

    check()
