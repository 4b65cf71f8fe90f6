"""`replace` on Postgres by an atomic swap: the rows are loaded once, into a new table made LIKE the
target, which then takes the target's name in one short transaction.

Only for a *plain* target, decided from pg_catalog and conservatively (`why_not_swappable`):
nothing else depends on the table (no view, rule, trigger, policy, foreign key either way,
publication, extended statistics, security label, extension membership, use of its row type), RLS
is off, it is neither partitioned nor inherited, its grants were all given by its owner, it has no
column grants, and this role may create the new table and give it the target's owner. Anything
else keeps the rewrite path (`TRUNCATE` + `INSERT ... SELECT`, unchanged), which keeps every
dependent in place.

The new table is created in the writer's transaction (`CREATE TABLE ... (LIKE target INCLUDING
ALL)`, with the target's persistence, access method, tablespace and storage options) and its
definition compared with the target's before a row is loaded: if LIKE did not reproduce it
exactly (names aside), the rewrite path is taken instead. At the end, in the same transaction:
lock the target (`ACCESS EXCLUSIVE`, retried under a short `lock_timeout` so a busy table fails
clearly and readers are not queued behind us for long), re-check that its definition and
dependents did not change since the load began, carry over the owner, the grants, the table
comment and the identity sequences' positions, re-own serial sequences, rename the old table
away and the new one into place, drop the old one, give indexes and identity sequences their old
names, and compare the result's definition with the old one's. Any failure rolls all of it back:
the target is exactly as it was and the new table never existed.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, replace
from typing import Any

import psycopg
import psycopg.errors
from psycopg import sql

from osiris_runtime.drivers.base import StepContext
from osiris_runtime.errors import RunFailed

LOCK_TIMEOUT = "2s"  # one attempt; readers that queue behind our lock wait at most this long
LOCK_ATTEMPTS = 15  # with a 1 s pause between attempts: about 45 s in all before the run fails


@dataclass(frozen=True)
class TableDefinition:
    """What `replace` must keep of a table, as plain values comparable between two tables.

    `columns`, `constraints` and `table` must be equal for the new table right after LIKE;
    `indexes` and `identity` hold names that only the swap gives back; `owner`, `acl`, `comment`
    and `serial` are carried over at the end.
    """

    table: tuple[Any, ...]
    columns: tuple[tuple[Any, ...], ...]
    constraints: tuple[tuple[Any, ...], ...]
    indexes: tuple[tuple[tuple[Any, ...], str, Any], ...]  # (shape, name, comment), sorted
    identity: tuple[tuple[str, str, tuple[Any, ...]], ...]  # (column, sequence name, options)
    serial: tuple[tuple[str, str], ...]  # (column, sequence) owned by a column, not identity
    owner: str
    acl: tuple[tuple[Any, ...], ...]
    comment: str | None

    def shape(self) -> TableDefinition:
        """The definition without what LIKE cannot copy and the swap carries over or renames."""
        return replace(self, indexes=tuple((s, "", c) for s, _, c in self.indexes),
                       identity=tuple((col, "", opts) for col, _, opts in self.identity),
                       serial=(), owner="", acl=(), comment=None)

    def without_carried(self) -> TableDefinition:
        return replace(self, owner="", acl=(), comment=None)


_TABLE = """
SELECT c.relkind, c.relpersistence, c.reloptions, ts.spcname, am.amname, c.relreplident,
       c.relrowsecurity, c.relforcerowsecurity, (SELECT reloptions FROM pg_class WHERE oid = c.reltoastrelid),
       pg_get_userbyid(c.relowner), obj_description(c.oid, 'pg_class')
FROM pg_class c LEFT JOIN pg_tablespace ts ON ts.oid = c.reltablespace LEFT JOIN pg_am am ON am.oid = c.relam
WHERE c.oid = %(t)s
"""
# attoptions less `pg_attver`, a per-column version some server builds keep there (not a setting).
_COLUMNS = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid),
       a.attidentity, a.attgenerated, co.collname, a.attstorage, a.attcompression, a.attstattarget,
       ARRAY(SELECT o FROM unnest(a.attoptions) AS o WHERE o NOT LIKE 'pg\\_attver=%%' ORDER BY o),
       col_description(a.attrelid, a.attnum), a.attacl IS NOT NULL
FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
LEFT JOIN pg_collation co ON co.oid = a.attcollation AND a.attcollation <> 0
WHERE a.attrelid = %(t)s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum
"""
# Constraints that are not an index's (those are in _INDEXES) and not foreign keys (never plain).
_CONSTRAINTS = """
SELECT c.contype, c.conname, pg_get_constraintdef(c.oid), c.convalidated, c.connoinherit,
       obj_description(c.oid, 'pg_constraint')
FROM pg_constraint c WHERE c.conrelid = %(t)s AND c.conindid = 0 AND c.contype <> 'f' ORDER BY 1, 2, 3
"""
_INDEXES = """
SELECT i.indisunique, i.indisprimary, i.indisexclusion, i.indimmediate, i.indisclustered, i.indisreplident,
       am.amname, ARRAY(SELECT coalesce(a.attname, '') FROM unnest(i.indkey) WITH ORDINALITY AS k(n, o)
                        LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n ORDER BY k.o),
       i.indclass::text, i.indcollation::text, i.indoption::text, pg_get_expr(i.indexprs, i.indrelid),
       pg_get_expr(i.indpred, i.indrelid), ic.reloptions, ts.spcname, con.contype, con.condeferrable,
       con.condeferred, ic.relname, obj_description(i.indexrelid, 'pg_class'),
       obj_description(con.oid, 'pg_constraint')
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam
LEFT JOIN pg_tablespace ts ON ts.oid = ic.reltablespace
LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid
WHERE i.indrelid = %(t)s
"""
_SEQUENCES = """
SELECT a.attname, s.relname, a.attidentity <> '', q.seqtypid::regtype::text, q.seqstart, q.seqincrement,
       q.seqmax, q.seqmin, q.seqcache, q.seqcycle, s.relpersistence
FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' JOIN pg_sequence q ON q.seqrelid = s.oid
JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.refobjid = %(t)s
  AND d.deptype IN ('a', 'i') ORDER BY 1
"""
# Grants as the privileges they give (NULL = the owner's defaults), so equal grants compare equal.
_ACL = """
SELECT coalesce(nullif(pg_get_userbyid(x.grantee), '-'), 'PUBLIC'), x.privilege_type, x.is_grantable,
       x.grantor = c.relowner
FROM pg_class c, aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) AS x
WHERE c.oid = %(t)s ORDER BY 1, 2, 3
"""


def table_definition(conn: psycopg.Connection, oid: int) -> TableDefinition:
    def rows(query: str) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in conn.execute(query, {"t": oid}).fetchall()]

    table = rows(_TABLE)[0]
    indexes = sorted(((r[:18], r[18], r[19:]) for r in rows(_INDEXES)), key=repr)
    sequences = rows(_SEQUENCES)
    return TableDefinition(
        table=table[:9],
        columns=tuple(rows(_COLUMNS)),
        constraints=tuple(rows(_CONSTRAINTS)),
        indexes=tuple(indexes),
        identity=tuple((r[0], r[1], r[3:]) for r in sequences if r[2]),
        serial=tuple((r[0], r[1]) for r in sequences if not r[2]),
        owner=table[9],
        acl=tuple(rows(_ACL)),
        comment=table[10],
    )


# One row of flags, each a reason the swap could hurt a dependent or lose part of the definition.
_NOT_SWAPPABLE = """
SELECT
  c.relkind <> 'r' OR c.relispartition,
  EXISTS (SELECT FROM pg_inherits WHERE inhrelid = c.oid OR inhparent = c.oid),
  EXISTS (SELECT FROM pg_constraint WHERE contype = 'f' AND (conrelid = c.oid OR confrelid = c.oid)),
  EXISTS (SELECT FROM pg_trigger WHERE tgrelid = c.oid AND NOT tgisinternal),
  c.relrowsecurity OR c.relforcerowsecurity OR EXISTS (SELECT FROM pg_policy WHERE polrelid = c.oid),
  EXISTS (SELECT FROM pg_rewrite WHERE ev_class = c.oid)
    OR EXISTS (SELECT FROM pg_depend WHERE classid = 'pg_rewrite'::regclass AND refclassid = 'pg_class'::regclass
               AND refobjid = c.oid),
  EXISTS (SELECT FROM pg_publication_rel WHERE prrelid = c.oid) OR EXISTS (SELECT FROM pg_publication WHERE puballtables)
    OR EXISTS (SELECT FROM pg_publication_namespace WHERE pnnspid = c.relnamespace),
  EXISTS (SELECT FROM pg_statistic_ext WHERE stxrelid = c.oid),
  EXISTS (SELECT FROM pg_seclabel WHERE objoid = c.oid AND classoid = 'pg_class'::regclass)
    OR EXISTS (SELECT FROM pg_depend WHERE classid = 'pg_class'::regclass AND objid = c.oid AND deptype = 'e'),
  EXISTS (SELECT FROM pg_depend t WHERE t.refclassid = 'pg_type'::regclass AND t.refobjid IN (c.reltype, ty.typarray)
          AND NOT (t.classid = 'pg_class'::regclass AND t.objid = c.oid)
          AND NOT (t.classid = 'pg_type'::regclass AND t.objid = ty.typarray)),
  -- Whatever else depends on the table, apart from its own parts (indexes, TOAST table, sequences
  -- owned by its columns, row type, defaults, constraints other than foreign keys).
  EXISTS (SELECT FROM pg_depend d WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = c.oid AND NOT (
      (d.classid = 'pg_class'::regclass AND (d.objid = c.reltoastrelid
          OR d.objid IN (SELECT indexrelid FROM pg_index WHERE indrelid = c.oid)
          OR (d.deptype IN ('a', 'i') AND d.objid IN (SELECT oid FROM pg_class WHERE relkind = 'S'))))
      OR (d.classid = 'pg_type'::regclass AND d.objid = c.reltype)
      OR (d.classid = 'pg_attrdef'::regclass AND d.objid IN (SELECT oid FROM pg_attrdef WHERE adrelid = c.oid))
      OR (d.classid = 'pg_constraint'::regclass
          AND d.objid IN (SELECT oid FROM pg_constraint WHERE conrelid = c.oid AND contype <> 'f'))
      OR d.classid IN ('pg_trigger'::regclass, 'pg_policy'::regclass, 'pg_rewrite'::regclass,
                       'pg_publication_rel'::regclass, 'pg_statistic_ext'::regclass))),
  EXISTS (SELECT FROM pg_attribute WHERE attrelid = c.oid AND attacl IS NOT NULL)
    OR EXISTS (SELECT FROM aclexplode(c.relacl) x WHERE x.grantor <> c.relowner)
    -- an identity sequence is made anew (a serial's is kept, grants and all)
    OR EXISTS (SELECT FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
               WHERE d.classid = 'pg_class'::regclass AND d.refobjid = c.oid AND d.deptype = 'i' AND s.relacl IS NOT NULL),
  NOT (has_schema_privilege(c.relnamespace, 'CREATE') AND (
      c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
      OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
      OR (pg_has_role(c.relowner, 'MEMBER') AND pg_has_role(c.relowner, 'USAGE')
          AND has_schema_privilege(c.relowner, c.relnamespace, 'CREATE'))))
FROM pg_class c JOIN pg_type ty ON ty.oid = c.reltype WHERE c.oid = %(t)s
"""
_REASONS = (
    "partitioned or a partition", "inherited", "foreign keys", "triggers", "row level security",
    "views or rules depend on it", "in a publication", "extended statistics",
    "security label or extension member", "its row type is used elsewhere", "other objects depend on it",
    "column grants, grants on its identity sequence, or grants given by another role than the owner",
    "this role cannot give the new table the owner",
)


def why_not_swappable(conn: psycopg.Connection, oid: int) -> str | None:
    """The first reason a swap could hurt the target (its dependents or its definition), or None."""
    flags = conn.execute(_NOT_SWAPPABLE, {"t": oid}).fetchone()
    if flags is None:
        return "the target is gone"
    return next((reason for reason, flag in zip(_REASONS, flags) if flag), None)


@dataclass(frozen=True)
class Swap:
    """A new table made LIKE the target, loaded in the writer's transaction, swapped in by `commit_swap`.

    `shared`: the new table was committed on a connection of its own (see `begin_swap`), so the
    partition loaders could COPY into it; the writer drops it (`drop_unswapped`) unless swapped in.
    """

    target_oid: int
    schema: str
    target_name: str
    new_name: str
    new_sql: str  # schema-qualified and quoted, for the writer's COPY and INSERT
    before: TableDefinition
    new_oid: int = 0
    shared: bool = False


def begin_swap(conn: psycopg.Connection, table_sql: str, *, shared: bool = False) -> tuple[Swap | None, str | None]:
    """Create the new table beside the target; (None, reason) when the rewrite path must be taken.

    Runs inside a transaction (a savepoint undoes a new table that does not match): the writer's
    own, or, `shared`, one of its own that the caller commits before the partition loaders start.
    """
    if conn.info.server_version < 150000:  # the catalog queries here read columns of 15 and later
        return None, "server older than PostgreSQL 15"
    oid, schema, name, persistence, options, tablespace, method = conn.execute(
        "SELECT c.oid::int, n.nspname, c.relname, c.relpersistence, coalesce(c.reloptions, '{}') || ARRAY("
        "SELECT 'toast.' || o FROM pg_class t, unnest(t.reloptions) AS o WHERE t.oid = c.reltoastrelid), ts.spcname, am.amname "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_tablespace ts ON ts.oid = c.reltablespace "
        "LEFT JOIN pg_am am ON am.oid = c.relam WHERE c.oid = to_regclass(%s)", (table_sql,)).fetchone()
    reason = why_not_swappable(conn, oid)
    if reason:
        return None, reason
    before = table_definition(conn, oid)
    new_name = f"osiris_new_{hashlib.sha1(f'{schema}.{name}'.encode()).hexdigest()[:12]}_{conn.info.backend_pid}"
    target = sql.Identifier(schema, name)
    create = sql.SQL("CREATE {unlogged}TABLE {new} (LIKE {target} INCLUDING ALL) USING {am}{with_}{tablespace}").format(
        unlogged=sql.SQL("UNLOGGED " if persistence == "u" else ""),
        new=sql.Identifier(schema, new_name), target=target, am=sql.Identifier(method or "heap"),
        with_=sql.SQL(" WITH ({})".format(", ".join(options))) if options else sql.SQL(""),
        tablespace=sql.SQL(" TABLESPACE {}").format(sql.Identifier(tablespace)) if tablespace else sql.SQL(""),
    )
    mismatch: str | None = None
    with conn.transaction() as savepoint:  # undone alone when the new table does not match
        conn.execute(create)
        made = table_definition(conn, _oid(conn, schema, new_name))
        old_types = {col: opts[0] for col, _, opts in before.identity}
        for column, seq, opts in made.identity:  # LIKE may widen an identity sequence to bigint
            if opts[0] != old_types.get(column, opts[0]):
                conn.execute(sql.SQL("ALTER SEQUENCE {} AS {}").format(sql.Identifier(schema, seq), sql.SQL(old_types[column])))
        made = table_definition(conn, _oid(conn, schema, new_name))
        if made.shape() != before.shape():
            mismatch = _first_difference(before.shape(), made.shape())
            raise psycopg.Rollback(savepoint)
    if mismatch:
        return None, f"LIKE does not reproduce its definition ({mismatch})"
    return Swap(oid, schema, name, new_name, sql.Identifier(schema, new_name).as_string(conn), before,
                _oid(conn, schema, new_name), shared), None


def drop_unswapped(conn: psycopg.Connection, swap: Swap) -> None:
    """Drop a shared swap's new table if it is still there under its private name (not swapped in)."""
    left = conn.execute("SELECT 1 FROM pg_class WHERE oid = %s AND relname = %s", (swap.new_oid, swap.new_name)).fetchone()
    if left:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(swap.schema, swap.new_name)))


def _oid(conn: psycopg.Connection, schema: str, name: str) -> int:
    row = conn.execute("SELECT c.oid::int FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                       "WHERE n.nspname = %s AND c.relname = %s", (schema, name)).fetchone()
    return int(row[0])


def _first_difference(a: TableDefinition, b: TableDefinition) -> str:
    return next((f for f in ("table", "columns", "constraints", "indexes", "identity")
                 if getattr(a, f) != getattr(b, f)), "?")


def commit_swap(ctx: StepContext, conn: psycopg.Connection, swap: Swap, rows: int) -> None:
    """Put the loaded new table (`rows` sent into it) in the target's place (in the writer's
    transaction; see module doc)."""
    target = sql.Identifier(swap.schema, swap.target_name)
    new = sql.Identifier(swap.schema, swap.new_name)
    if swap.shared:
        # Committed, so others could have seen it: hold it, then check it holds exactly our rows
        # and is still the table we made.
        conn.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(new))
        stored = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(new)).fetchone()[0]
        if _oid(conn, swap.schema, swap.new_name) != swap.new_oid or stored != rows:
            raise RunFailed(
                f"step {ctx.step_id}: replace of {swap.target_name}: the new table holds {stored} rows but {rows} were "
                "loaded; the target is unchanged",
                code="run.row-count-mismatch",
            )
    _lock(ctx, conn, target)
    changed = why_not_swappable(conn, swap.target_oid)
    now = table_definition(conn, swap.target_oid)
    if changed or now.without_carried() != swap.before.without_carried():
        what = changed or _first_difference(swap.before, now)
        raise RunFailed(
            f"step {ctx.step_id}: replace of {swap.target_name}: the table's definition changed during the load "
            f"({what}); the target is unchanged",
            code="run.target-changed",
            fix="run the step again once the change to the table is done",
        )
    new_oid = _oid(conn, swap.schema, swap.new_name)
    made = table_definition(conn, new_oid)
    if now.owner != made.owner:  # also gives it the identity sequences
        conn.execute(sql.SQL("ALTER TABLE {} OWNER TO {}").format(new, sql.Identifier(now.owner)))
    if now.acl != table_definition(conn, new_oid).acl:
        _copy_grants(conn, new, new_oid, now)
    if now.comment is not None:
        conn.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(new, sql.Literal(now.comment)))
    old_identity = dict((col, seq) for col, seq, _ in now.identity)
    for column, seq, _ in made.identity:  # the new sequence goes on from where the old one was
        old = sql.Identifier(swap.schema, old_identity[column])
        last, called = conn.execute(sql.SQL("SELECT last_value, is_called FROM {}").format(old)).fetchone()
        conn.execute("SELECT setval(%s::regclass, %s, %s)", (sql.Identifier(swap.schema, seq).as_string(conn), last, called))
    for column, seq in now.serial:  # a serial's sequence is kept: it moves to the new table's column
        conn.execute(sql.SQL("ALTER SEQUENCE {} OWNED BY {}").format(
            sql.Identifier(swap.schema, seq), sql.Identifier(swap.schema, swap.new_name, column)))
    parked = swap.new_name.replace("osiris_new_", "osiris_old_", 1)
    conn.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(target, sql.Identifier(parked)))
    conn.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(new, sql.Identifier(swap.target_name)))
    conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(swap.schema, parked)))
    for (shape, name, _), (_, new_index, _) in zip(now.indexes, made.indexes):
        if name != new_index:
            conn.execute(sql.SQL("ALTER INDEX {} RENAME TO {}").format(sql.Identifier(swap.schema, new_index), sql.Identifier(name)))
    for column, seq, _ in made.identity:
        if old_identity[column] != seq:
            conn.execute(sql.SQL("ALTER SEQUENCE {} RENAME TO {}").format(
                sql.Identifier(swap.schema, seq), sql.Identifier(old_identity[column])))
    after = table_definition(conn, new_oid)
    if after != now:  # say "kept" only when it is true
        raise RunFailed(
            f"step {ctx.step_id}: replace of {swap.target_name}: the swapped table would differ from the target "
            f"({_first_difference(now, after) if after.without_carried() != now.without_carried() else 'owner, grants or comment'}); "
            "the target is unchanged",
            code="run.swap-mismatch",
        )


def _lock(ctx: StepContext, conn: psycopg.Connection, target: sql.Composable) -> None:
    conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(LOCK_TIMEOUT)))
    for attempt in range(LOCK_ATTEMPTS):
        try:
            with conn.transaction():  # a savepoint: a timed-out attempt must not abort the write
                conn.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(target))
            break
        except psycopg.errors.LockNotAvailable:
            if attempt == LOCK_ATTEMPTS - 1:
                raise RunFailed(
                    f"step {ctx.step_id}: replace: the target stayed locked by other sessions for "
                    f"{LOCK_ATTEMPTS} attempts of {LOCK_TIMEOUT}; the target is unchanged",
                    code="run.target-busy",
                    fix="find the long transaction on the table (pg_locks, pg_stat_activity) or run again later",
                ) from None
            time.sleep(1)
    conn.execute("SET LOCAL lock_timeout = 0")


def _copy_grants(conn: psycopg.Connection, new: sql.Identifier, new_oid: int, old: TableDefinition) -> None:
    """Make the new table's grants the old one's: revoke whatever it got, grant what the old had."""
    for grantee in {g for g, *_ in table_definition(conn, new_oid).acl}:
        conn.execute(sql.SQL("REVOKE ALL ON {} FROM {}").format(new, _role(grantee)))
    for grantee, privilege, grantable, _ in old.acl:
        conn.execute(sql.SQL("GRANT {} ON {} TO {}{}").format(
            sql.SQL(privilege), new, _role(grantee), sql.SQL(" WITH GRANT OPTION" if grantable else "")))


def _role(name: str) -> sql.Composable:
    return sql.SQL("PUBLIC") if name == "PUBLIC" else sql.Identifier(name)
