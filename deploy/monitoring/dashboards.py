"""Linli's Grafana dashboards, as code: ``python deploy/monitoring/dashboards.py`` writes one JSON per concern into
deploy/monitoring/dashboards/ (the edge, each service, the event backbone, the domain). Import them in Grafana
(Dashboards → Import) and pick the Prometheus data source. tests/test_monitoring.py checks the files are what this
writes, and that every metric they query is one Linli exports.

Every query sums or takes the max over replicas: counters add up, and a figure read from a service's database
(bookings, the outbox, dead letters) is the same whichever replica reported it, so it is ``max``, never ``sum``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE / "dashboards"
SERVICES = ("registry", "booking", "procurement", "feedback")
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


def panel(
    title: str, targets: list[tuple[str, str]], *, unit: str = "short", kind: str = "timeseries"
) -> dict[str, Any]:
    """A panel of ``(PromQL, legend)`` queries."""
    return {
        "type": kind,
        "title": title,
        "datasource": DATASOURCE,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [
            {"refId": chr(ord("A") + i), "datasource": DATASOURCE, "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(targets)
        ],
    }


def dashboard(uid: str, title: str, description: str, panels: list[dict[str, Any]]) -> dict[str, Any]:
    laid_out = []
    for i, p in enumerate(panels):  # two panels a row, 12 columns each
        laid_out.append({**p, "id": i + 1, "gridPos": {"h": 8, "w": 12, "x": 12 * (i % 2), "y": 8 * (i // 2)}})
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["linli"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Prometheus",
                    "type": "datasource",
                    "query": "prometheus",
                    "current": {},
                    "hide": 0,
                }
            ]
        },
        "panels": laid_out,
    }


def red(service: str) -> list[dict[str, Any]]:
    """Rate, errors, duration of one component's routes (by route template)."""
    sel = f'service="{service}"'
    return [
        panel(
            "Requests per second by route",
            [(f"sum by (route) (rate(linli_http_requests_total{{{sel}}}[5m]))", "{{route}}")],
            unit="reqps",
        ),
        panel(
            "Share of 5xx answers",
            [
                (
                    f'sum(rate(linli_http_requests_total{{{sel}, status=~"5.."}}[5m]))'
                    f" / sum(rate(linli_http_requests_total{{{sel}}}[5m]))",
                    "5xx",
                ),
                (
                    f'sum(rate(linli_http_requests_total{{{sel}, status=~"4.."}}[5m]))'
                    f" / sum(rate(linli_http_requests_total{{{sel}}}[5m]))",
                    "4xx",
                ),
            ],
            unit="percentunit",
        ),
        panel(
            "p99 latency by route",
            [
                (
                    f"histogram_quantile(0.99, sum by (route, le) "
                    f"(rate(linli_http_request_duration_seconds_bucket{{{sel}}}[5m])))",
                    "{{route}}",
                )
            ],
            unit="s",
        ),
        panel(
            "Errors per second by route and status",
            [
                (
                    f'sum by (route, status) (rate(linli_http_requests_total{{{sel}, status=~"5.."}}[5m]))',
                    "{{route}} {{status}}",
                )
            ],
            unit="reqps",
        ),
    ]


def edge() -> dict[str, Any]:
    return dashboard(
        "linli-edge",
        "Linli · edge (gateway)",
        "The gateway: every answer by route, each upstream's latency, breakers, rate limits.",
        [
            *red("gateway"),
            panel(
                "Upstream latency p50 / p99",
                [
                    (
                        "histogram_quantile(0.5, sum by (upstream, le) "
                        "(rate(linli_gateway_upstream_duration_seconds_bucket[5m])))",
                        "{{upstream}} p50",
                    ),
                    (
                        "histogram_quantile(0.99, sum by (upstream, le) "
                        "(rate(linli_gateway_upstream_duration_seconds_bucket[5m])))",
                        "{{upstream}} p99",
                    ),
                ],
                unit="s",
            ),
            panel(
                "Upstream outcomes per second",
                [
                    (
                        "sum by (upstream, outcome) (rate(linli_gateway_upstream_duration_seconds_count[5m]))",
                        "{{upstream}} {{outcome}}",
                    )
                ],
                unit="reqps",
            ),
            panel(
                "Open circuit breakers (replicas paused)",
                [("max by (upstream, replica) (linli_gateway_breaker_open)", "{{upstream}} {{replica}}")],
            ),
            panel(
                "Rate-limit refusals per minute",
                [("sum by (limit) (rate(linli_gateway_rate_limited_total[5m])) * 60", "{{limit}}")],
            ),
            panel(
                "Clients cut off per minute (headers or body too slow)",
                [('sum by (reason) (rate(linli_edge_cuts_total{job="linli-gateway"}[5m])) * 60', "{{reason}}")],
            ),
        ],
    )


def service(name: str) -> dict[str, Any]:
    sel = f'service="{name}"'
    return dashboard(
        f"linli-{name}",
        f"Linli · {name}",
        f"The {name} service: its routes, database pools and events.",
        [
            *red(name),
            panel(
                "Database connections in use / pool size",
                [
                    (f"sum by (pool) (linli_db_pool_in_use{{{sel}}})", "in use ({{pool}})"),
                    (f"sum by (pool) (linli_db_pool_size{{{sel}}})", "size ({{pool}})"),
                    (f"sum by (pool) (linli_db_pool_overflow{{{sel}}})", "overflow ({{pool}})"),
                ],
            ),
            panel(
                "Outbox: events waiting, oldest's age",
                [
                    (f"max(linli_outbox_backlog{{{sel}}})", "waiting"),
                    (f"max(linli_outbox_oldest_unsent_age_seconds{{{sel}}})", "oldest (s)"),
                ],
            ),
            panel(
                "Consumers: events not yet delivered",
                [(f"max by (durable) (linli_consumer_pending{{{sel}}})", "{{durable}}")],
            ),
            panel(
                "Replicas connected to NATS",
                [
                    (f"sum(linli_nats_connected{{{sel}}})", "connected"),
                    (f'count(up{{job="linli-{name}"}})', "replicas"),
                ],
            ),
        ],
    )


def events() -> dict[str, Any]:
    return dashboard(
        "linli-events",
        "Linli · event backbone",
        "Outbox → JetStream → durable consumers: backlog, publish latency, lag, redeliveries, dead letters.",
        [
            panel("Outbox backlog by service", [("max by (service) (linli_outbox_backlog)", "{{service}}")]),
            panel(
                "Age of the oldest unsent event",
                [("max by (service) (linli_outbox_oldest_unsent_age_seconds)", "{{service}}")],
                unit="s",
            ),
            panel(
                "Publish latency p99 (batch to acknowledgements)",
                [
                    (
                        "histogram_quantile(0.99, sum by (service, le) "
                        "(rate(linli_outbox_publish_seconds_bucket[5m])))",
                        "{{service}}",
                    )
                ],
                unit="s",
            ),
            panel(
                "Events published / failed per second",
                [("sum by (service, outcome) (rate(linli_outbox_published_total[5m]))", "{{service}} {{outcome}}")],
            ),
            panel(
                "Consumer lag (JetStream num_pending)",
                [("max by (durable) (linli_consumer_pending)", "{{durable}}")],
            ),
            panel(
                "Delivered, not yet acknowledged",
                [("max by (durable) (linli_consumer_ack_pending)", "{{durable}}")],
            ),
            panel(
                "Consumer outcomes per second",
                [("sum by (durable, outcome) (rate(linli_consumer_events_total[5m]))", "{{durable}} {{outcome}}")],
            ),
            panel(
                "Redeliveries per minute",
                [("sum by (durable) (rate(linli_consumer_redeliveries_total[5m])) * 60", "{{durable}}")],
            ),
            panel(
                "Dead letters waiting (not replayed)",
                [("max by (durable, type) (linli_dead_letters)", "{{durable}} {{type}}")],
            ),
            panel(
                "Dead-lettered in the last hour",
                [("sum by (durable, type) (increase(linli_dead_lettered_total[1h]))", "{{durable}} {{type}}")],
            ),
        ],
    )


def domain() -> dict[str, Any]:
    return dashboard(
        "linli-domain",
        "Linli · domain",
        "What officials ask: bookings by channel and status, complaints past their SLA, SMS delivery.",
        [
            panel(
                "New bookings per hour by channel",
                [("sum by (channel) (max by (channel, status) (delta(linli_bookings[1h])))", "{{channel}}")],
            ),
            panel(
                "Bookings by current status",
                [("sum by (status) (max by (channel, status) (linli_bookings))", "{{status}}")],
            ),
            panel(
                "Bookings by channel (all time)",
                [("sum by (channel) (max by (channel, status) (linli_bookings))", "{{channel}}")],
                kind="piechart",
            ),
            panel(
                "Complaints past their SLA",
                [("max by (deadline, severity) (linli_complaints_past_sla)", "{{deadline}} {{severity}}")],
            ),
            panel(
                "SMS sent per hour by kind",
                [("sum by (kind) (increase(linli_sms_sent_total[1h]))", "{{kind}}")],
            ),
            panel(
                "SMS refused per hour by kind and code",
                [("sum by (kind, code) (increase(linli_sms_failures_total[1h]))", "{{kind}} {{code}}")],
            ),
        ],
    )


def all_dashboards() -> dict[str, dict[str, Any]]:
    boards = {"edge.json": edge(), "events.json": events(), "domain.json": domain()}
    boards |= {f"service-{name}.json": service(name) for name in SERVICES}
    return boards


def render(board: dict[str, Any]) -> str:
    return json.dumps(board, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    OUT.mkdir(exist_ok=True)
    for name, board in all_dashboards().items():
        (OUT / name).write_text(render(board), encoding="utf-8")
        print(f"wrote {OUT / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
