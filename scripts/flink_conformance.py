#!/usr/bin/env python3
"""Conformance: memscale's Nexmark queries against Flink's, on the same events.

memscale writes its events (`memscale nexmark export`), runs each query on
them (`memscale run --results`), and Flink SQL runs the Nexmark suite's SQL
for the query over the exported CSV files (PyFlink's Table API, batch
mode, parallelism 1) into CSV files. The final results are compared as
multisets after normalizing timestamps (ms since the epoch, UTC) and
decimals. Flink shares
no code with memscale: its answers are an independent reference.

    .venv-flink/bin/python scripts/flink_conformance.py [--events N] [--preset default|large-state] [--queries q0,q20]

Needs the `apache-flink` package (scripts/setup.sh installs it into
.venv-flink) and Java 17. Exit code 0 when every query agrees, 1 otherwise.

Covered: every query memscale has (q0-q5, q7-q22), with SQL in flink/sql/.
Named differences: q18 and q19 are equal up to ties the SQL leaves open
(TIES below); q13 joins the side input with a regular join where the suite
has a processing-time lookup join (flink/sql/q13.sql says why; the side
input is static, so the rows are the same). q11 runs in streaming mode
(Flink's batch planner has no session windows); q12's windows follow the
wall clock, and it is compared on each bidder's total (WALL_CLOCK below);
q10 is written partitioned by (dt, hm), as the suite's
filesystem sink does, and compared partition by partition, `_SUCCESS`
files included. Flink writes each result as CSV files that are read back
(collecting rows through PyFlink's gateway took 6 min for eight queries on
20,000 events; the files, 31 s).
"""

import argparse
import calendar
import collections
import csv
import decimal
import os
import re
import subprocess
import sys
import tempfile

# The Nexmark suite's SQL, one SELECT per file in flink/sql/ (the same text
# `memscale flink submit` runs over its live source): the suite's
# `INSERT INTO discard_sink` replaced by the SELECT it inserts, `dateTime`
# quoted (Flink 2's parser reserves it), q3's state literals lower-cased as
# memscale's generator writes them.
SQL_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "flink", "sql")


def load_queries():
    """{query: SQL} from flink/sql/, comment lines dropped, in query order."""
    queries = {}
    for name in os.listdir(SQL_DIR):
        if name.endswith(".sql"):
            with open(os.path.join(SQL_DIR, name)) as f:
                text = "\n".join(l for l in f.read().splitlines() if not l.strip().startswith("--"))
            queries[name[:-4]] = text.strip()
    return dict(sorted(queries.items(), key=lambda kv: int(kv[0][1:])))


QUERIES = load_queries()

# Ties the SQL leaves open, accepted either way: for these queries, rows
# that differ are accepted when the multisets of these columns (the
# partition and order keys) are equal. q18 keeps "the last bid" of a bidder
# on an auction by ORDER BY dateTime DESC: bids of the same millisecond tie
# (10 per ms at the default 10,000 events/s of event time), and memscale
# keeps the later one in the stream. q19 ranks by price: equal prices tie
# for their rank numbers and at the tenth place.
TIES = {
    "q18": ("auction, bidder, dateTime", (0, 1, 5)),
    "q19": ("auction, price, rank_number", (0, 2, 7)),
}


def project(rows, columns):
    out = collections.Counter()
    for row, n in rows.items():
        out[tuple(row[i] for i in columns)] += n
    return out


# Queries Flink runs in streaming mode: its batch planner has no session
# windows (q11). Their results are append-only, so the rows written are
# the final ones.
STREAMING = {"q11"}

# Queries whose result is a table partitioned by these columns (q10, the
# suite's filesystem sink): both sides' partition directories are compared.
PARTITIONED = {"q10": ("dt", "hm")}

def per_bidder_totals(rows):
    """Rows led by (bidder, count) as a Counter of (bidder,) weighted by
    the counts."""
    out = collections.Counter()
    for row, n in rows.items():
        out[(row[0],)] += int(row[1]) * n
    return out


# Queries whose result depends on the wall clock, compared on what does
# not: q12 counts each bidder's bids in processing-time windows, so which
# window a bid falls in depends on when it was processed, and Flink fires
# no processing-time window at the end of a bounded input (on these files
# its q12 writes nothing). Each bidder's total over its windows must equal
# the bidder's bids, which Flink counts here: (Flink SQL, memscale's rows
# projected the same way, what is compared).
WALL_CLOCK = {
    "q12": ("SELECT bidder, COUNT(*) AS bids FROM bid GROUP BY bidder", per_bidder_totals,
            "each bidder's bids over all its windows"),
}


# The suite's side input for q13 (`side_input_gen.sh`): keys 0 to 9,999,
# each with its own decimal as value.
SIDE_INPUT_ROWS = 10_000


def write_side_input(work):
    path = os.path.join(work, "side_input")
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "side_input.txt"), "w") as f:
        for key in range(SIDE_INPUT_ROWS):
            f.write(f"{key},{key}\n")
    return path


def flink_env(events_dir, side_input_dir, streaming):
    """A Flink table environment with the exported tables and the side
    input registered."""
    from pyflink.table import EnvironmentSettings, TableEnvironment

    if streaming:
        t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
        # The streaming file sink makes its files visible at checkpoints;
        # the last one comes when the bounded input ends.
        t_env.get_config().set("execution.checkpointing.interval", "1s")
    else:
        # Batch mode where it can: the files are bounded, and a batch
        # job's result is the final one (no changelog to fold).
        t_env = TableEnvironment.create(EnvironmentSettings.in_batch_mode())
    t_env.get_config().set("parallelism.default", "1")
    t_env.get_config().set("table.local-time-zone", "UTC")
    with open(os.path.join(events_dir, "schema.sql")) as f:
        schema = f.read()
    schema = "\n".join(l for l in schema.splitlines() if not l.strip().startswith("--"))
    for statement in schema.split(";"):
        if statement.strip():
            t_env.execute_sql(statement)
    t_env.execute_sql(
        "CREATE TABLE side_input (`key` BIGINT, `value` VARCHAR) "
        f"WITH ('connector' = 'filesystem', 'path' = '{side_input_dir}', 'format' = 'csv')"
    )
    return t_env


TIMESTAMP = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?$")


DECIMAL = re.compile(r"^-?\d+(\.\d+)?([eE][+-]?\d+)?$")


def normalize_text(value):
    """One field of either side's CSV in one form: timestamps as ms since
    the epoch (UTC), decimals without trailing zeros (Flink writes 1761.52
    where memscale writes the DECIMAL(23, 3) as 1761.520, and 1.227616E+7,
    Java's BigDecimal, for 12276160.000)."""
    if DECIMAL.match(value) and ("." in value or "e" in value.lower()):
        text = format(decimal.Decimal(value), "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    m = TIMESTAMP.match(value)
    if m:
        y, mo, d, h, mi, sec, frac = m.groups()
        ms = int((frac or "0").ljust(3, "0")[:3])
        return str(calendar.timegm((int(y), int(mo), int(d), int(h), int(mi), int(sec))) * 1000 + ms)
    return value


def read_tree(out_dir):
    """Every row of the CSV files under `out_dir`; for a partitioned table,
    each row led by its partition directory (`dt=2023-11-14/hm=22%3A13`),
    and each `_SUCCESS` file as a row of its own."""
    out = collections.Counter()
    for root, _, files in os.walk(out_dir):
        partition = os.path.relpath(root, out_dir)
        lead = () if partition == "." else (partition,)
        for name in files:
            if name == "_SUCCESS":
                out[lead + ("_SUCCESS",)] += 1
                continue
            if name.startswith(".") or name.endswith(".crc"):
                continue
            with open(os.path.join(root, name), newline="") as f:
                for row in csv.reader(f):
                    out[lead + tuple(normalize_text(v) for v in row)] += 1
    return out


def flink_rows(t_env, query, sql, out_dir):
    """The query's final result, written by Flink as CSV files into
    `out_dir` (collecting through the Python gateway costs a round trip per
    row: minutes at tens of thousands of rows) and read back."""
    from pyflink.table import Schema, TableDescriptor

    table = t_env.sql_query(sql)
    schema = Schema.new_builder().from_row_data_type(table.get_schema().to_row_data_type()).build()
    sink = TableDescriptor.for_connector("filesystem").schema(schema).option("path", out_dir).format("csv")
    if query in PARTITIONED:
        # The suite's sink: a partition commits a success file.
        sink = sink.partitioned_by(*PARTITIONED[query]).option("sink.partition-commit.policy.kind", "success-file")
    table.execute_insert(sink.build()).wait()
    return read_tree(out_dir)


def memscale_rows(binary, query, events, preset, work):
    results = os.path.join(work, f"{query}.csv")
    run_dir = os.path.join(work, f"run-{query}")
    subprocess.run(
        [binary, "run", "--query", query, "--events", str(events), "--preset", preset, "--metrics-addr", "off",
         "--control-addr", "off", "--out", run_dir, "--results", results],
        check=True, stdout=subprocess.DEVNULL,
    )
    if query in PARTITIONED:
        # q10 writes its table under --out/bid, and emits no rows.
        return read_tree(os.path.join(run_dir, "bid"))
    with open(results, newline="") as f:
        reader = csv.reader(f)
        next(reader)
        return collections.Counter(tuple(normalize_text(v) for v in r) for r in reader)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=20000)
    ap.add_argument("--preset", default="default", choices=["default", "large-state"])
    ap.add_argument("--queries", default=",".join(QUERIES))
    ap.add_argument("--memscale", default="target/release/memscale")
    ap.add_argument("--work", help="directory for events and results (default: a temporary one)")
    a = ap.parse_args()
    queries = [q.strip() for q in a.queries.split(",") if q.strip()]
    unknown = [q for q in queries if q not in QUERIES]
    if unknown:
        print(f"--queries: no Flink SQL here for {', '.join(unknown)} (have {', '.join(QUERIES)})", file=sys.stderr)
        return 2
    work = a.work or tempfile.mkdtemp(prefix="conformance-")
    events_dir = os.path.join(work, "events")
    subprocess.run([a.memscale, "nexmark", "export", "--events", str(a.events), "--preset", a.preset, "-o", events_dir],
                   check=True, stdout=subprocess.DEVNULL)
    side_input_dir = write_side_input(work)
    envs = {}
    failed = 0
    for q in queries:
        streaming = q in STREAMING
        if streaming not in envs:
            envs[streaming] = flink_env(events_dir, side_input_dir, streaming)
        ours = memscale_rows(a.memscale, q, a.events, a.preset, work)
        if q in WALL_CLOCK:
            sql, project_ours, what = WALL_CLOCK[q]
            ours = project_ours(ours)
            flink = per_bidder_totals(flink_rows(envs[False], q, sql, os.path.join(work, f"flink-{q}")))
            if ours == flink:
                print(f"{q}: {what} equal to Flink's ({len(ours)} bidders; its windows follow the wall clock)")
                continue
        else:
            flink = flink_rows(envs[streaming], q, QUERIES[q], os.path.join(work, f"flink-{q}"))
        if ours == flink:
            print(f"{q}: {sum(ours.values())} rows, equal to Flink's")
            continue
        if q in TIES and project(ours, TIES[q][1]) == project(flink, TIES[q][1]):
            print(f"{q}: {sum(ours.values())} rows, equal to Flink's up to ties the SQL leaves open: "
                  f"{sum((ours - flink).values())} rows differ only from rows tied with them on ({TIES[q][0]})")
            continue
        failed += 1
        only_ours, only_flink = ours - flink, flink - ours
        print(f"{q}: DIFFERENT: memscale {sum(ours.values())} rows, Flink {sum(flink.values())}; "
              f"{sum(only_ours.values())} only in memscale, {sum(only_flink.values())} only in Flink")
        for row in list(only_ours)[:3]:
            print(f"  memscale only: {row}")
        for row in list(only_flink)[:3]:
            print(f"  Flink only:    {row}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
