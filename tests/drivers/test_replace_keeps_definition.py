"""`replace` swaps the rows, never the table's definition: triggers, foreign keys (both ways),
grants and AUTO_INCREMENT stay, on MySQL and Postgres; a failure says "unchanged" only when it is
true; concurrent replaces of one table each use their own staging table."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from osiris_runtime.drivers.mysql import MySQLWriter
from osiris_runtime.drivers.supabase import SupabaseWriter
from osiris_runtime.errors import RunFailed
from osiris_runtime.runner.batches import Batch, Column, Schema

from .conftest import make_ctx

pytestmark = pytest.mark.integration

SCHEMA = Schema((Column("id", "int32", False, "int"), Column("val", "string", True, "varchar(40)")))


def rows(ids: range, tag: str) -> Iterator[Batch]:
    yield Batch(SCHEMA, [(i, f"{tag}-{i}") for i in ids])


def _my(my: Any, *statements: str) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    with my.cursor() as cur:
        for sql in statements:
            cur.execute(sql)
            out = list(cur.fetchall())
    return out


def _my_replace(my_connection: dict[str, Any], table: str, batches: Iterator[Batch], step: str = "rep") -> Any:
    ctx = make_ctx(step, "mysql.writer", {"table": table, "write_mode": "replace", "primary_key": ["id"]}, my_connection)
    MySQLWriter(ctx).run({"up": batches})
    return ctx


def _my_parent(my: Any) -> None:
    _my(my, "DROP TABLE IF EXISTS i11_child", "DROP TABLE IF EXISTS i11_audit", "DROP TABLE IF EXISTS i11_parent",
        "CREATE TABLE i11_parent (id INT PRIMARY KEY, val VARCHAR(40)) ENGINE=InnoDB",
        "INSERT INTO i11_parent VALUES (1, 'old-1'), (2, 'old-2'), (3, 'old-3')")


def _my_stages(my: Any) -> list[str]:
    return [r[0] for r in _my(my, "SHOW TABLES LIKE 'osiris\\_stage%'")]


def test_mysql_replace_keeps_the_targets_triggers(my, my_connection):
    _my_parent(my)
    _my(my, "CREATE TABLE i11_audit (id INT, what VARCHAR(10))",
        "CREATE TRIGGER i11_parent_ins AFTER INSERT ON i11_parent FOR EACH ROW INSERT INTO i11_audit VALUES (NEW.id, 'ins')")
    _my_replace(my_connection, "i11_parent", rows(range(1, 3), "new"))
    assert _my(my, "SELECT id, val FROM i11_parent ORDER BY id") == [(1, "new-1"), (2, "new-2")]
    assert [r[0] for r in _my(my, "SHOW TRIGGERS LIKE 'i11_parent'")] == ["i11_parent_ins"]
    assert _my(my, "SELECT id FROM i11_audit ORDER BY id") == [(1,), (2,)]  # fired for the new rows
    assert _my_stages(my) == []


def test_mysql_replace_keeps_the_targets_own_foreign_keys_and_auto_increment(my, my_connection):
    _my_parent(my)
    _my(my, "CREATE TABLE i11_child (id INT AUTO_INCREMENT PRIMARY KEY, val VARCHAR(40), "
            "CONSTRAINT i11_child_fk FOREIGN KEY (id) REFERENCES i11_parent (id)) ENGINE=InnoDB AUTO_INCREMENT=1000",
        "INSERT INTO i11_child VALUES (1, 'c')")
    _my_replace(my_connection, "i11_child", rows(range(2, 4), "new"))
    assert _my(my, "SELECT id, val FROM i11_child ORDER BY id") == [(2, "new-2"), (3, "new-3")]
    ddl = _my(my, "SHOW CREATE TABLE i11_child")[0][1]
    assert "i11_child_fk" in ddl and "AUTO_INCREMENT=1000" in ddl
    # The key is still enforced: a row without a parent fails and changes nothing.
    with pytest.raises(RunFailed) as failure:
        _my_replace(my_connection, "i11_child", rows(range(3, 5), "orphan"))
    assert "unchanged" in failure.value.message
    assert _my(my, "SELECT id, val FROM i11_child ORDER BY id") == [(2, "new-2"), (3, "new-3")]


def test_mysql_replace_of_a_referenced_table_keeps_the_children_valid(my, my_connection):
    _my_parent(my)
    _my(my, "CREATE TABLE i11_child (id INT PRIMARY KEY, parent INT, FOREIGN KEY (parent) REFERENCES i11_parent (id)) ENGINE=InnoDB",
        "INSERT INTO i11_child VALUES (10, 2)")
    _my_replace(my_connection, "i11_parent", rows(range(2, 5), "new"))  # key 1 goes, key 2 (referenced) stays
    assert _my(my, "SELECT id, val FROM i11_parent ORDER BY id") == [(2, "new-2"), (3, "new-3"), (4, "new-4")]
    fk = _my(my, "SELECT REFERENCED_TABLE_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS "
                 "WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = 'i11_child'")
    assert fk == [("i11_parent",)]  # not a leftover `..._old` table
    # Removing the referenced key fails under RESTRICT, and then the target really is unchanged.
    with pytest.raises(RunFailed) as failure:
        _my_replace(my_connection, "i11_parent", rows(range(3, 5), "gone"))
    assert "unchanged" in failure.value.message
    assert _my(my, "SELECT id, val FROM i11_parent ORDER BY id") == [(2, "new-2"), (3, "new-3"), (4, "new-4")]
    # ... and later replaces still work.
    _my_replace(my_connection, "i11_parent", rows(range(2, 4), "again"))
    assert _my(my, "SELECT val FROM i11_parent ORDER BY id") == [("again-2",), ("again-3",)]
    assert _my_stages(my) == []


def test_mysql_replace_keeps_table_grants(my, my_connection, my_database):
    _my_parent(my)
    _my(my, "DROP USER IF EXISTS 'i11_reader'@'localhost'", "CREATE USER 'i11_reader'@'localhost'",
        f"GRANT SELECT ON `{my_database}`.i11_parent TO 'i11_reader'@'localhost'")
    try:
        _my_replace(my_connection, "i11_parent", rows(range(5, 7), "new"))
        grants = " ".join(r[0] for r in _my(my, "SHOW GRANTS FOR 'i11_reader'@'localhost'"))
        assert "i11_parent" in grants
    finally:
        _my(my, "DROP USER IF EXISTS 'i11_reader'@'localhost'")


def test_concurrent_mysql_replaces_of_one_table_use_their_own_staging_tables(my, my_connection):
    _my_parent(my)
    seen: dict[str, list[str]] = {}

    def inner() -> Iterator[Batch]:
        yield from rows(range(20, 22), "inner")
        seen["inner"] = _my_stages(my)
        yield from rows(range(22, 23), "inner")

    def outer() -> Iterator[Batch]:
        yield from rows(range(10, 12), "outer")
        # The first replace is mid-load (its stage holds rows, uncommitted): a second one runs now.
        seen["outer"] = _my_stages(my)
        _my_replace(my_connection, "i11_parent", inner(), step="second")
        yield from rows(range(12, 13), "outer")

    done = threading.Event()

    def first() -> None:
        _my_replace(my_connection, "i11_parent", outer(), step="first")
        done.set()

    threading.Thread(target=first, daemon=True).start()
    assert done.wait(60), "the second replace waited on the first one's staging table"
    assert len(seen["inner"]) == 1 + len(seen["outer"]) == 2
    assert _my(my, "SELECT id FROM i11_parent ORDER BY id") == [(10,), (11,), (12,)]  # the last to finish wins
    assert _my_stages(my) == []


# --- Postgres: the contents are swapped in one transaction, the table itself stays ----------------


def _pg_replace(pg_connection: dict[str, Any], schema: str, table: str, batches: Iterator[Batch]) -> None:
    config = {"table": table, "schema": schema, "write_mode": "replace", "primary_key": "id"}
    SupabaseWriter(make_ctx("pg-rep", "supabase.writer", config, pg_connection)).run({"up": batches})


def test_postgres_replace_keeps_triggers_foreign_keys_and_grants(pg, pg_connection, pg_schema):
    pg.execute("DROP TABLE IF EXISTS i11_pchild, i11_paudit, i11_pparent")
    pg.execute("CREATE TABLE i11_pparent (id int PRIMARY KEY, val varchar(40))")
    pg.execute("CREATE TABLE i11_pchild (id int PRIMARY KEY REFERENCES i11_pparent (id), val varchar(40))")
    pg.execute("INSERT INTO i11_pparent SELECT g, 'old' FROM generate_series(1, 5) g")
    pg.execute("CREATE TABLE i11_paudit (id int)")
    pg.execute("CREATE OR REPLACE FUNCTION i11_paudit_fn() RETURNS trigger LANGUAGE plpgsql AS "
               f'$$ BEGIN INSERT INTO "{pg_schema}".i11_paudit VALUES (NEW.id); RETURN NEW; END $$')
    pg.execute("CREATE TRIGGER i11_ptrg AFTER INSERT ON i11_pchild FOR EACH ROW EXECUTE FUNCTION i11_paudit_fn()")
    pg.execute("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'i11_reader') THEN CREATE ROLE i11_reader; END IF; END $$")
    pg.execute("GRANT SELECT ON i11_pchild TO i11_reader")
    _pg_replace(pg_connection, pg_schema, "i11_pchild", rows(range(2, 4), "new"))
    assert pg.execute("SELECT id, val FROM i11_pchild ORDER BY id").fetchall() == [(2, "new-2"), (3, "new-3")]
    assert pg.execute("SELECT id FROM i11_paudit ORDER BY id").fetchall() == [(2,), (3,)]
    assert pg.execute("SELECT has_table_privilege('i11_reader', 'i11_pchild', 'SELECT')").fetchone()[0]
    with pytest.raises(RunFailed) as failure:  # the table's own key still holds
        _pg_replace(pg_connection, pg_schema, "i11_pchild", rows(range(9, 10), "orphan"))
    assert "unchanged" in failure.value.message
    assert pg.execute("SELECT id FROM i11_pchild ORDER BY id").fetchall() == [(2,), (3,)]
    pg.execute("DROP TABLE i11_pchild, i11_paudit, i11_pparent")
    pg.execute("DROP FUNCTION i11_paudit_fn()")


def test_postgres_replace_of_a_referenced_table_keeps_children_of_kept_keys(pg, pg_connection, pg_schema):
    pg.execute("DROP TABLE IF EXISTS i11_pchild, i11_pparent")
    pg.execute("CREATE TABLE i11_pparent (id int PRIMARY KEY, val varchar(40))")
    pg.execute("CREATE TABLE i11_pchild (id int PRIMARY KEY, parent int REFERENCES i11_pparent (id) ON DELETE CASCADE)")
    pg.execute("INSERT INTO i11_pparent SELECT g, 'old' FROM generate_series(1, 3) g")
    pg.execute("INSERT INTO i11_pchild VALUES (10, 1), (20, 2)")
    _pg_replace(pg_connection, pg_schema, "i11_pparent", rows(range(2, 5), "new"))
    assert pg.execute("SELECT id, val FROM i11_pparent ORDER BY id").fetchall() == [(2, "new-2"), (3, "new-3"), (4, "new-4")]
    # Only the child of the key that went is gone (its CASCADE): the child of a kept key stays.
    assert pg.execute("SELECT id FROM i11_pchild").fetchall() == [(20,)]
    pg.execute("DROP TABLE i11_pchild, i11_pparent")
