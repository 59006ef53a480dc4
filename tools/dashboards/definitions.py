"""What every Grafana dashboard shows: panels and their PromQL, declared once as data.

`tools.dashboards` turns these into dashboard JSON with grafana-foundation-sdk; the observability check
evaluates every query against a real Prometheus; the README lists them. Queries aggregate by `service`
(the ServiceMonitor's label in Kubernetes, a static scrape label locally). `core` panels must show data
after a short load on the local stack.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Grafana's own variables, and the dashboard's: the check substitutes these before querying.
RATE = "$__rate_interval"
SVC = 'service=~"$service"'
INTERNAL_DEPENDENCIES = "postgresql|nats"
SERVER_ERRORS = "UNKNOWN|INTERNAL|UNAVAILABLE|DATA_LOSS|DEADLINE_EXCEEDED"


@dataclass(frozen=True)
class Query:
    """One PromQL target and its legend."""

    expr: str
    legend: str = ""


@dataclass(frozen=True)
class PanelSpec:
    """One panel: its visualisation, unit and queries; exemplars link its points to their traces."""

    title: str
    description: str
    queries: tuple[Query, ...]
    kind: str = "timeseries"  # timeseries | stat
    unit: str = "short"
    core: bool = False
    exemplars: bool = False
    width: int = 12


@dataclass(frozen=True)
class DashboardSpec:
    """One dashboard (one file in the chart's files/dashboards/)."""

    uid: str
    title: str
    description: str
    panels: tuple[PanelSpec, ...] = field(default_factory=tuple)


def ratio(bad: str, total: str, by: str) -> str:
    """bad/total by labels; 0 (not no data) while nothing failed, so a healthy panel still shows data."""
    return f"(sum by ({by}) ({bad}) or sum by ({by}) ({total}) * 0) / sum by ({by}) ({total})"


def quantile(q: float, metric: str, by: str = "", selector: str = "") -> str:
    """histogram_quantile over a rate of a histogram's buckets."""
    labels = f"{by}, le" if by else "le"
    selection = f"{{{selector}}}" if selector else ""
    return f"histogram_quantile({q}, sum by ({labels}) (rate({metric}_bucket{selection}[{RATE}])))"


def _rpc(selector: str = "") -> str:
    inner = ",".join(part for part in (SVC, selector) if part)
    return f"rate(crm_rpc_server_duration_seconds_count{{{inner}}}[{RATE}])"


def _http(selector: str = "") -> str:
    return f"rate(crm_http_server_duration_seconds_count{{{selector}}}[{RATE}])"


OVERVIEW = DashboardSpec(
    uid="crm-overview",
    title="CRM / Overview",
    description="Golden signals of every service: traffic, errors, latency, saturation.",
    panels=(
        PanelSpec(
            "Targets up",
            "1 per scraped process of the system, 0 when Prometheus cannot scrape it.",
            (Query(f'min by (service) (up{{part_of="crm-backbone",{SVC}}})', "{{service}}"),),
            kind="stat",
            core=True,
            width=24,
        ),
        PanelSpec(
            "gRPC requests by service",
            "Calls handled per second (every method, every status).",
            (Query(f"sum by (service) ({_rpc()})", "{{service}}"),),
            unit="reqps",
            core=True,
        ),
        PanelSpec(
            "REST requests by route",
            "Requests per second at the edge, by route and status code.",
            (
                Query(
                    f"sum by (http_route, http_response_status_code) ({_http()})",
                    "{{http_route}} {{http_response_status_code}}",
                ),
            ),
            unit="reqps",
            core=True,
        ),
        PanelSpec(
            "gRPC server error ratio",
            f"Share of calls that ended {SERVER_ERRORS.replace('|', ', ')} (client errors are not errors).",
            (Query(ratio(_rpc(f'rpc_grpc_status_code=~"{SERVER_ERRORS}"'), _rpc(), "service"), "{{service}}"),),
            unit="percentunit",
            core=True,
        ),
        PanelSpec(
            "REST 5xx ratio",
            "Share of edge requests answered with a 5xx.",
            (Query(ratio(_http('http_response_status_code=~"5.."'), _http(), "service"), "{{service}}"),),
            unit="percentunit",
            core=True,
        ),
        PanelSpec(
            "gRPC latency p99 / p50",
            "Server-side call duration quantiles by service.",
            (
                Query(quantile(0.99, "crm_rpc_server_duration_seconds", "service", SVC), "p99 {{service}}"),
                Query(quantile(0.5, "crm_rpc_server_duration_seconds", "service", SVC), "p50 {{service}}"),
            ),
            unit="s",
            core=True,
        ),
        PanelSpec(
            "REST latency p99 by route",
            "Edge request duration, 99th percentile by route.",
            (Query(quantile(0.99, "crm_http_server_duration_seconds", "http_route"), "{{http_route}}"),),
            unit="s",
            core=True,
        ),
        PanelSpec(
            "CPU by service",
            "CPU seconds per second of every process (saturation).",
            (
                Query(
                    f'sum by (service) (rate(process_cpu_seconds_total{{part_of="crm-backbone",{SVC}}}[{RATE}]))',
                    "{{service}}",
                ),
            ),
            unit="percentunit",
            core=True,
        ),
        PanelSpec(
            "Resident memory by service",
            "Resident set size of the largest process of each service.",
            (
                Query(
                    f'max by (service) (process_resident_memory_bytes{{part_of="crm-backbone",{SVC}}})',
                    "{{service}}",
                ),
            ),
            unit="bytes",
            core=True,
        ),
    ),
)

LEAD_JOURNEY = DashboardSpec(
    uid="crm-lead-journey",
    title="CRM / Lead journey",
    description="From capture to first contact: volume by source, time to assignment and contact, SLAs, re-routes.",
    panels=(
        PanelSpec(
            "Leads captured by source",
            "Leads captured per second, by source channel.",
            (Query(f"sum by (channel) (rate(crm_leads_captured_total[{RATE}]))", "{{channel}}"),),
            unit="reqps",
            core=True,
        ),
        PanelSpec(
            "Time to assignment",
            "Capture to assignment, p50 / p90 / p99; exemplars open the lead's trace.",
            tuple(
                Query(quantile(q, "crm_lead_time_to_assignment_seconds"), f"p{int(q * 100)}") for q in (0.5, 0.9, 0.99)
            ),
            unit="s",
            core=True,
            exemplars=True,
        ),
        PanelSpec(
            "Time to first contact",
            "Capture to the first recorded contact, p50 / p90 / p99; exemplars open the lead's trace.",
            tuple(
                Query(quantile(q, "crm_lead_time_to_first_contact_seconds"), f"p{int(q * 100)}")
                for q in (0.5, 0.9, 0.99)
            ),
            unit="s",
            core=True,
            exemplars=True,
        ),
        PanelSpec(
            "Leads waiting by state",
            "Leads not yet assigned, claimed or contacted.",
            (Query("max by (state) (crm_leads_waiting)", "{{state}}"),),
        ),
        PanelSpec(
            "Oldest waiting lead by state",
            "Age of the oldest lead in each waiting state (alert: unassigned over 5 minutes).",
            (Query("max by (state) (crm_lead_oldest_waiting_seconds)", "{{state}}"),),
            unit="s",
        ),
        PanelSpec(
            "SLA breaches by kind",
            "Claim and first-contact clocks that ran out.",
            (Query(f"sum by (kind) (increase(crm_lead_sla_breaches_total[{RATE}]))", "{{kind}}"),),
        ),
        PanelSpec(
            "Re-routes by reason",
            "Leads taken from their assignee and routed again.",
            (Query(f"sum by (reason) (increase(crm_lead_reroutes_total[{RATE}]))", "{{reason}}"),),
        ),
        PanelSpec(
            "Pool returns",
            "Leads returned to the public pool.",
            (Query(f"sum (increase(crm_lead_pool_returns_total[{RATE}]))", "returned"),),
        ),
    ),
)

EVENT_BUS = DashboardSpec(
    uid="crm-event-bus",
    title="CRM / Event bus",
    description="Outbox to JetStream to consumers: lag, throughput, redeliveries, dead letters.",
    panels=(
        PanelSpec(
            "Outbox pending events",
            "Events committed and not yet published, by service.",
            (Query(f"max by (service) (crm_outbox_pending_events{{{SVC}}})", "{{service}}"),),
            core=True,
        ),
        PanelSpec(
            "Outbox lag",
            "Age of the oldest unpublished event (alert: over 60 s).",
            (Query(f"max by (service) (crm_outbox_lag_seconds{{{SVC}}})", "{{service}}"),),
            unit="s",
            core=True,
        ),
        PanelSpec(
            "Events published by subject",
            "Events per second the relays published.",
            (
                Query(
                    f"sum by (messaging_destination) (rate(crm_events_published_total[{RATE}]))",
                    "{{messaging_destination}}",
                ),
            ),
            unit="reqps",
            core=True,
        ),
        PanelSpec(
            "Events consumed by consumer and outcome",
            "applied, duplicate (inbox hit), retried, dead_lettered.",
            (
                Query(
                    f"sum by (consumer, outcome) (rate(crm_events_consumed_total[{RATE}]))",
                    "{{consumer}} {{outcome}}",
                ),
            ),
            unit="reqps",
            core=True,
        ),
        PanelSpec(
            "Consumer lag",
            "Messages a durable consumer has not yet received (alert: over 1000).",
            (Query(f"max by (consumer) (crm_consumer_pending_messages{{{SVC}}})", "{{consumer}}"),),
            core=True,
        ),
        PanelSpec(
            "Redeliveries",
            "Events that failed and will be delivered again, by consumer.",
            (
                Query(
                    f'sum by (consumer) (rate(crm_events_consumed_total{{outcome="retried"}}[{RATE}]))',
                    "{{consumer}}",
                ),
            ),
            unit="reqps",
        ),
        PanelSpec(
            "Dead letters",
            "Events moved to crm.dlq.<consumer> (inspect and replay: python -m crm_common.bus.dlq).",
            (Query(f"sum by (consumer) (increase(crm_dead_letters_total[{RATE}]))", "{{consumer}}"),),
        ),
    ),
)

DEPENDENCIES = DashboardSpec(
    uid="crm-dependencies",
    title="CRM / Dependencies",
    description="Every internal and external dependency as each service sees it, and the chat apps' token expiries.",
    panels=(
        PanelSpec(
            "Dependency state by service",
            "1 up, 0 down: PostgreSQL, NATS, the gateway's peers and the external providers.",
            (Query(f"min by (service, dependency) (crm_dependency_up{{{SVC}}})", "{{service}} → {{dependency}}"),),
            kind="stat",
            core=True,
            width=24,
        ),
        PanelSpec(
            "Internal dependencies",
            "PostgreSQL and NATS, worst state across services.",
            (
                Query(
                    f'min by (dependency) (crm_dependency_up{{dependency=~"{INTERNAL_DEPENDENCIES}"}})',
                    "{{dependency}}",
                ),
            ),
            core=True,
        ),
        PanelSpec(
            "External dependencies",
            "Chat apps, mail, SMS and partner webhooks, as probed.",
            (
                Query(
                    'min by (dependency) (crm_dependency_up{dependency=~"wecom|dingtalk|smtp|sms|webhook:.*"})',
                    "{{dependency}}",
                ),
            ),
        ),
        PanelSpec(
            "Token expiry by channel",
            "Seconds until each channel's access token expires (alert: under a day).",
            (Query("min by (channel) (crm_notification_token_expiry_seconds)", "{{channel}}"),),
            unit="s",
        ),
    ),
)

NOTIFICATIONS = DashboardSpec(
    uid="crm-notifications",
    title="CRM / Notifications",
    description="Notifications by channel and status, delivery time, degraded channels.",
    panels=(
        PanelSpec(
            "Notifications by channel and status",
            "Notifications per second reaching a final status.",
            (
                Query(
                    f"sum by (channel, status) (rate(crm_notifications_total[{RATE}]))",
                    "{{channel}} {{status}}",
                ),
            ),
            unit="reqps",
            core=True,
        ),
        PanelSpec(
            "Failure ratio by channel",
            "Share of notifications that failed, by channel.",
            (
                Query(
                    ratio(
                        f'rate(crm_notifications_total{{status="failed"}}[{RATE}])',
                        f"rate(crm_notifications_total[{RATE}])",
                        "channel",
                    ),
                    "{{channel}}",
                ),
            ),
            unit="percentunit",
            core=True,
        ),
        PanelSpec(
            "Delivery time p90 by channel",
            "Request to provider acceptance; exemplars open the notification's trace.",
            (Query(quantile(0.9, "crm_notification_delivery_seconds", "channel"), "{{channel}}"),),
            unit="s",
            exemplars=True,
        ),
        PanelSpec(
            "Degraded channels",
            "1 while a channel cannot deliver (alert after 5 minutes).",
            (Query("max by (channel) (crm_notification_channel_degraded)", "{{channel}}"),),
        ),
    ),
)

PIPELINE = DashboardSpec(
    uid="crm-pipeline",
    title="CRM / Pipeline",
    description="Opportunities through their stages: stage changes by outcome, refusals, approvals waiting, stalls.",
    panels=(
        PanelSpec(
            "Stage changes by outcome",
            "Stage change requests per second: moved, override, approval_requested, refused, conflict.",
            (Query(f"sum by (outcome) (rate(crm_pipeline_stage_changes_total[{RATE}]))", "{{outcome}}"),),
            unit="reqps",
        ),
        PanelSpec(
            "Refused stage changes",
            "Share of stage change requests refused by a gate (a required action or document missing).",
            (
                Query(
                    ratio(
                        f'rate(crm_pipeline_stage_changes_total{{outcome="refused"}}[{RATE}])',
                        f"rate(crm_pipeline_stage_changes_total[{RATE}])",
                        "service",
                    ),
                    "refused",
                ),
            ),
            unit="percentunit",
        ),
        PanelSpec(
            "Stage change time p99 / p50",
            "Evaluating the gates of and applying one stage change, in the service.",
            (
                Query(quantile(0.99, "crm_pipeline_stage_change_duration_seconds"), "p99"),
                Query(quantile(0.5, "crm_pipeline_stage_change_duration_seconds"), "p50"),
            ),
            unit="s",
        ),
        PanelSpec(
            "Approvals waiting",
            "Approval requests waiting for a manager's decision.",
            (Query("max (crm_pipeline_approvals_waiting)", "waiting"),),
        ),
        PanelSpec(
            "Stalls raised by kind",
            "Stalls raised (stall, escalate, legal).",
            (Query(f"sum by (kind) (increase(crm_pipeline_stalls_total[{RATE}]))", "{{kind}}"),),
        ),
        PanelSpec(
            "Stall lateness p99",
            "How long after its due time a stall was raised (alert: p99 over 5 s).",
            (Query(quantile(0.99, "crm_pipeline_stall_lateness_seconds"), "p99"),),
            unit="s",
        ),
    ),
)

INTEGRATIONS = DashboardSpec(
    uid="crm-integrations",
    title="CRM / Integrations",
    description="The integration gateway: inbound webhooks, outbound deliveries, the dependencies it probes.",
    panels=(
        PanelSpec(
            "Inbound webhooks by source and outcome",
            "captured, duplicate, rejected, failed, quarantined, unauthenticated.",
            (
                Query(
                    f"sum by (source, outcome) (rate(crm_webhooks_received_total[{RATE}]))",
                    "{{source}} {{outcome}}",
                ),
            ),
            unit="reqps",
        ),
        PanelSpec(
            "Unauthenticated webhooks by source",
            "Webhooks refused for a bad or missing signature (alert: over 20 in 5 minutes).",
            (
                Query(
                    f'sum by (source) (increase(crm_webhooks_received_total{{outcome="unauthenticated"}}[{RATE}]))',
                    "{{source}}",
                ),
            ),
        ),
        PanelSpec(
            "Outbound deliveries by outcome",
            "Delivery attempts per second: succeeded, retried, dead (out of attempts), gone (410 from the receiver).",
            (Query(f"sum by (outcome) (rate(crm_webhook_deliveries_total[{RATE}]))", "{{outcome}}"),),
            unit="reqps",
        ),
        PanelSpec(
            "Dead and gone deliveries",
            "Deliveries given up (alert: any in 15 minutes).",
            (
                Query(
                    f'sum by (outcome) (increase(crm_webhook_deliveries_total{{outcome=~"dead|gone"}}[{RATE}]))',
                    "{{outcome}}",
                ),
            ),
        ),
        PanelSpec(
            "Registered dependencies",
            "1 up, 0 down, as the gateway's prober sees each registered dependency (alert: down 1 minute).",
            (
                Query(
                    'min by (dependency) (crm_dependency_up{service="integration-gateway"})',
                    "{{dependency}}",
                ),
            ),
            kind="stat",
            width=24,
        ),
    ),
)

DASHBOARDS: tuple[DashboardSpec, ...] = (
    OVERVIEW, LEAD_JOURNEY, EVENT_BUS, DEPENDENCIES, NOTIFICATIONS, PIPELINE, INTEGRATIONS
)
