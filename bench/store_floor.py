"""The store's own floor for an initial sync: what the database alone needs to hold the rows
the sync wrote, measured by copying them into an empty store of the same schema with the
engine's cheapest way to write many rows (one `INSERT … SELECT` per table, in one
transaction each, rows in key order), with the same settings mailroom uses (WAL,
`synchronous = FULL`, foreign keys on, the subject index's triggers in place).

No sync can write its index faster than this: it has the same rows to put in the same
indexes, and also has to receive, parse and look up what it writes. `initial_sync.py`
prints it beside the IMAP floor, so a ratio to the IMAP floor can be read against what
the store itself costs on the same machine in the same run.
"""

import os
import re
import sqlite3
import subprocess
import time

# The tables an initial sync writes per message or per thread, in the order it writes them
# (crates/store/src/index_batch.rs); every other table is copied first, untimed.
INDEX_TABLES = ["messages", "message_addresses", "thread_refs", "message_locations",
                "threads", "thread_folders", "thread_addresses"]
# The order rows are copied in: each table's primary key, or the order the sync adds them.
ORDER = {"messages": "rowid", "message_addresses": "grant_id, email, date, message_id, roles",
         "thread_refs": "grant_id, ref_key", "message_locations": "folder_id, uid",
         "threads": "id", "thread_folders": "folder_id, latest_date, thread_id",
         "thread_addresses": "thread_id, email"}


def sqlite_floor(source, target):
    """Seconds (wall, CPU) to copy the index tables of the SQLite store `source` into a new
    store at `target`, and the seconds per table."""
    src = sqlite3.connect(source)
    schema = src.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL "
        "AND name NOT LIKE 'sqlite_%' ORDER BY rowid").fetchall()
    tables = [name for kind, name, _ in schema if kind == "table"]
    src.close()
    # The subject index's own tables are made by its CREATE VIRTUAL TABLE.
    virtual = [name for kind, name, sql in schema
               if kind == "table" and sql.upper().startswith("CREATE VIRTUAL TABLE")]
    shadow = {name for name in tables for v in virtual if name.startswith(f"{v}_")}
    db = sqlite3.connect(target, isolation_level=None)
    db.executescript("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; "
                     "PRAGMA temp_store = MEMORY; PRAGMA cache_size = -65536;")
    for kind, name, sql in schema:
        if name not in shadow:
            db.execute(sql)
    db.execute("ATTACH DATABASE ? AS source", (source,))
    db.execute("BEGIN")
    for name in tables:
        if name not in INDEX_TABLES and name not in shadow and name not in virtual:
            db.execute(f"INSERT INTO main.{name} SELECT * FROM source.{name}")
    db.execute("COMMIT")
    # Checked while the index is copied, as mailroom's writes are.
    db.execute("PRAGMA foreign_keys = ON")
    per_table = {}
    wall, cpu = time.perf_counter(), time.process_time()
    for name in INDEX_TABLES:
        started = time.perf_counter()
        db.execute("BEGIN")
        db.execute(f"INSERT INTO main.{name} SELECT * FROM source.{name} ORDER BY {ORDER[name]}")
        db.execute("COMMIT")
        per_table[name] = time.perf_counter() - started
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    db.close()
    return wall, cpu, per_table


def postgres_floor(url, source_schema, target_schema):
    """Seconds (wall, as PostgreSQL reports each statement) to copy the index tables of the
    schema `source_schema` into a new schema of the same definition, and the seconds per
    table. `url` is a plain postgres:// URL (no search_path option)."""
    quiet = {**os.environ, "PGOPTIONS": "-c client_min_messages=warning"}
    ddl = subprocess.run(["pg_dump", "--schema-only", "--no-owner", "--no-privileges",
                          "-n", source_schema, url],
                         check=True, capture_output=True, text=True).stdout
    ddl = ddl.replace(f"{source_schema}.", f"{target_schema}.").replace(
        f"SCHEMA {source_schema}", f"SCHEMA {target_schema}")
    # pg_dump empties search_path for the session; the copy below sets its own.
    subprocess.run(["psql", url, "-q", "-v", "ON_ERROR_STOP=1", "-c",
                    f"DROP SCHEMA IF EXISTS {target_schema} CASCADE"], check=True, env=quiet)
    subprocess.run(["psql", url, "-q", "-v", "ON_ERROR_STOP=1"], input=ddl, check=True,
                   capture_output=True, text=True)
    tables = subprocess.run(
        ["psql", url, "-At", "-c",
         f"SELECT tablename FROM pg_tables WHERE schemaname = '{source_schema}'"],
        check=True, capture_output=True, text=True).stdout.split()
    # Tables other than the index's, in any order: their foreign keys are not checked
    # (replica role); the index's are, as mailroom's writes are.
    script = [f"SET search_path = {target_schema}, public;", "SET session_replication_role = replica;"]
    script += [f"INSERT INTO {target_schema}.{t} SELECT * FROM {source_schema}.{t};"
               for t in tables if t not in INDEX_TABLES]
    script += ["SET session_replication_role = origin;", "\\timing on"]
    for name in INDEX_TABLES:
        script += ["BEGIN;", f"INSERT INTO {target_schema}.{name} SELECT * FROM "
                   f"{source_schema}.{name} ORDER BY {ORDER[name].replace('rowid', 'date, id')};",
                   "COMMIT;"]
    out = subprocess.run(["psql", url, "-q", "-v", "ON_ERROR_STOP=1"], input="\n".join(script),
                         check=True, capture_output=True, text=True).stdout
    times = [float(ms) / 1000 for ms in re.findall(r"Time: ([0-9.]+) ms", out)]
    # Three statements per table (BEGIN, INSERT, COMMIT), timed from the first BEGIN.
    per_table = {name: sum(times[3 * i:3 * i + 3]) for i, name in enumerate(INDEX_TABLES)}
    subprocess.run(["psql", url, "-q", "-c", f"DROP SCHEMA IF EXISTS {target_schema} CASCADE"],
                   check=True, env=quiet)
    return sum(per_table.values()), per_table
