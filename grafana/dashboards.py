#!/usr/bin/env python3
"""Writes the memscale Grafana dashboards (grafana/dashboards/*.json).

Dashboards as code: edit the panels here, run `python3 grafana/dashboards.py`,
commit both. Every panel reads Prometheus through the `datasource` variable
(by uid), so the dashboards work with any Prometheus datasource.
sweep/tests/grafana.rs evaluates every expression below against a real
Prometheus scraping a real run.
"""

import json
import os

DS = {"type": "prometheus", "uid": "${datasource}"}
RATE = "$__rate_interval"
OP = 'operator=~"$operator"'


def datasource_var():
    return {
        "name": "datasource",
        "label": "Prometheus",
        "type": "datasource",
        "query": "prometheus",
        "current": {},
        "hide": 0,
    }


def operator_var():
    return {
        "name": "operator",
        "label": "Operator",
        "type": "query",
        "datasource": DS,
        "query": {"query": "label_values(memscale_records_in_total, operator)", "refId": "operator"},
        "definition": "label_values(memscale_records_in_total, operator)",
        "includeAll": True,
        "multi": True,
        "allValue": ".*",
        "current": {"text": "All", "value": "$__all"},
        "refresh": 2,
        "hide": 0,
    }


class Board:
    def __init__(self, uid, title, description, variables):
        self.uid, self.title, self.description = uid, title, description
        self.variables = variables
        self.panels = []
        self.y = 0
        self.x = 0

    def row(self, title):
        if self.x:
            self.x, self.y = 0, self.y + 8
        self.panels.append(
            {
                "id": len(self.panels) + 1,
                "type": "row",
                "title": title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y},
                "panels": [],
            }
        )
        self.y += 1

    def panel(self, title, description, unit, targets, kind="timeseries"):
        if self.x >= 24:
            self.x, self.y = 0, self.y + 8
        self.panels.append(
            {
                "id": len(self.panels) + 1,
                "type": kind,
                "title": title,
                "description": description,
                "datasource": DS,
                "gridPos": {"h": 8, "w": 12, "x": self.x, "y": self.y},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
                "targets": [
                    {"refId": chr(ord("A") + i), "datasource": DS, "expr": expr, "legendFormat": legend}
                    for i, (expr, legend) in enumerate(targets)
                ],
            }
        )
        self.x += 12

    def json(self):
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": ["memscale"],
            "schemaVersion": 39,
            "version": 1,
            "editable": True,
            "graphTooltip": 1,
            "refresh": "5s",
            "time": {"from": "now-15m", "to": "now"},
            "timepicker": {},
            "annotations": {"list": []},
            "links": [],
            "templating": {"list": self.variables},
            "panels": self.panels,
        }


def job_overview():
    b = Board(
        "memscale-job",
        "memscale: job overview",
        "Throughput, latency, backpressure and DS2 rates of a memscale run, and the rescaling decisions.",
        [datasource_var(), operator_var()],
    )
    b.row("Throughput and latency")
    b.panel(
        "Source throughput",
        "Events emitted by the sources per second.",
        "ops",
        [(f"sum(rate(memscale_source_events_total[{RATE}]))", "events/s")],
    )
    b.panel(
        "End-to-end latency",
        "From source emission to the sink, quantiles since the start of the run.",
        "s",
        [
            ('memscale_latency_seconds{quantile="0.5"}', "p50"),
            ('memscale_latency_seconds{quantile="0.99"}', "p99"),
        ],
    )
    b.panel(
        "Records in per operator",
        "Rows received per second, summed over subtasks.",
        "ops",
        [(f"sum by (operator) (rate(memscale_records_in_total{{{OP}}}[{RATE}]))", "{{operator}}")],
    )
    b.panel(
        "Results",
        "Rows reaching the sinks per second.",
        "ops",
        [(f"sum(rate(memscale_results_total[{RATE}]))", "rows/s")],
    )
    b.row("Busy time and backpressure (DS2)")
    b.panel(
        "Useful time",
        "DS2 useful time per second of wall time, summed over subtasks: 1 = one core busy.",
        "percentunit",
        [(f"sum by (operator) (rate(memscale_useful_time_seconds_total{{{OP}}}[{RATE}]))", "{{operator}}")],
    )
    b.panel(
        "Backpressure",
        "Time blocked on full output channels per second of wall time.",
        "percentunit",
        [(f"sum by (operator) (rate(memscale_backpressure_time_seconds_total{{{OP}}}[{RATE}]))", "{{operator}}")],
    )
    b.panel(
        "True processing rate",
        "DS2: records in per second of useful time, summed over subtasks.",
        "ops",
        [
            (
                f"sum by (operator) (rate(memscale_records_in_total{{{OP}}}[{RATE}])"
                f" / rate(memscale_useful_time_seconds_total{{{OP}}}[{RATE}]))",
                "{{operator}}",
            )
        ],
    )
    b.panel(
        "True output rate",
        "DS2: records out per second of useful time, summed over subtasks.",
        "ops",
        [
            (
                f"sum by (operator) (rate(memscale_records_out_total{{{OP}}}[{RATE}])"
                f" / rate(memscale_useful_time_seconds_total{{{OP}}}[{RATE}]))",
                "{{operator}}",
            )
        ],
    )
    b.row("Rescaling and autoscaler decisions")
    b.panel(
        "Parallelism",
        "Subtasks per operator over time: each step is a rescale.",
        "short",
        [(f"memscale_operator_parallelism{{{OP}}}", "{{operator}}")],
    )
    b.panel(
        "Block-cache size",
        "Block-cache capacity per stateful operator over time: each step is a memory decision.",
        "bytes",
        [(f"memscale_block_cache_capacity_bytes{{{OP}}}", "{{operator}}")],
    )
    b.panel(
        "State moved by rescales",
        "Key-group state moved by live rescales: bytes per second (the key groups and their count are in memscale_rescale_key_groups_moved_total).",
        "Bps",
        [(f"rate(memscale_rescale_bytes_moved_total[{RATE}])", "bytes moved")],
    )
    b.panel(
        "Rescale duration",
        "How long rescales took, from the call to the last key group installed (p50 and max of those so far).",
        "s",
        [
            ("histogram_quantile(0.5, sum by (le) (memscale_rescale_duration_seconds_bucket))", "p50"),
            ("histogram_quantile(1, sum by (le) (memscale_rescale_duration_seconds_bucket))", "max"),
        ],
    )
    return b


def operator_memory():
    b = Board(
        "memscale-memory",
        "memscale: operator memory",
        "Block cache, state access latency, disk reads and state size per stateful operator.",
        [datasource_var(), operator_var()],
    )
    b.row("Block cache")
    hits = f"sum by (operator) (rate(memscale_block_cache_hits_total{{{OP}}}[{RATE}]))"
    misses = f"sum by (operator) (rate(memscale_block_cache_misses_total{{{OP}}}[{RATE}]))"
    b.panel(
        "Block-cache hit ratio",
        "Hits / (hits + misses) of the operator's RocksDB block cache (all block types).",
        "percentunit",
        [(f"{hits} / ({hits} + {misses})", "{{operator}}")],
    )
    b.panel(
        "Block-cache usage and capacity",
        "Bytes held by the operator's block cache, against its capacity.",
        "bytes",
        [
            (f"memscale_block_cache_usage_bytes{{{OP}}}", "{{operator}} usage"),
            (f"memscale_block_cache_capacity_bytes{{{OP}}}", "{{operator}} capacity"),
        ],
    )
    b.row("State access")
    b.panel(
        "State get latency",
        "Read (get, scan) latency quantiles since the start, worst subtask.",
        "s",
        [
            (
                f'max by (operator, quantile) (memscale_state_latency_seconds{{{OP}, op="get"}})',
                "{{operator}} p{{quantile}}",
            )
        ],
    )
    b.panel(
        "State put latency",
        "Write (put, merge, delete) latency quantiles since the start, worst subtask.",
        "s",
        [
            (
                f'max by (operator, quantile) (memscale_state_latency_seconds{{{OP}, op="put"}})',
                "{{operator}} p{{quantile}}",
            )
        ],
    )
    b.panel(
        "Disk reads",
        "Bytes read from SST files per second (with direct I/O, from the disk).",
        "Bps",
        [(f"sum by (operator) (rate(memscale_disk_read_bytes_total{{{OP}}}[{RATE}]))", "{{operator}}")],
    )
    b.panel(
        "Block-cache misses",
        "Misses per second: each one a block read from the disk.",
        "ops",
        [(misses, "{{operator}}")],
    )
    b.row("State size")
    b.panel(
        "State bytes",
        "Memtables plus live SST files.",
        "bytes",
        [
            (
                f"sum by (operator) (memscale_sst_bytes{{{OP}}}) + sum by (operator) (memscale_memtable_bytes{{{OP}}})",
                "{{operator}}",
            )
        ],
    )
    b.panel(
        "State keys",
        "Estimated keys in the operator's state.",
        "short",
        [(f"sum by (operator) (memscale_state_keys{{{OP}}})", "{{operator}}")],
    )
    return b


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dashboards")
    os.makedirs(out, exist_ok=True)
    for board, name in [(job_overview(), "job-overview.json"), (operator_memory(), "operator-memory.json")]:
        with open(os.path.join(out, name), "w") as f:
            json.dump(board.json(), f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
