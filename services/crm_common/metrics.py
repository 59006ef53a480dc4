"""Every custom Prometheus metric of the system, declared once (names follow Prometheus and OTel conventions)."""

from __future__ import annotations

from collections.abc import Collection

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from crm_common.telemetry import trace_id_of

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
JOURNEY_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 30, 60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 172800)

# Transport (RED per method / route).
RPC_SERVER_DURATION = Histogram(
    "crm_rpc_server_duration_seconds",
    "Duration of gRPC calls handled, by method and status code.",
    ["rpc_service", "rpc_method", "rpc_grpc_status_code"],
    buckets=LATENCY_BUCKETS,
)
HTTP_SERVER_DURATION = Histogram(
    "crm_http_server_duration_seconds",
    "Duration of HTTP requests handled by the edge, by route and status code.",
    ["http_route", "http_request_method", "http_response_status_code"],
    buckets=LATENCY_BUCKETS,
)

# Event bus.
OUTBOX_PENDING = Gauge("crm_outbox_pending_events", "Events written to the outbox and not yet published.")
OUTBOX_LAG = Gauge("crm_outbox_lag_seconds", "Age of the oldest unpublished outbox event.")
EVENTS_PUBLISHED = Counter("crm_events_published_total", "Events published to JetStream.", ["messaging_destination"])
EVENTS_CONSUMED = Counter(
    "crm_events_consumed_total", "Events handled by a durable consumer, by outcome.", ["consumer", "outcome"]
)
CONSUMER_PENDING = Gauge(
    "crm_consumer_pending_messages", "Messages a durable consumer has not yet received.", ["consumer"]
)
PROJECTION_LAG = Gauge(
    "crm_projection_lag_seconds", "Seconds from an event's publication to its projection (last batch).", ["consumer"]
)
DEAD_LETTERS = Counter("crm_dead_letters_total", "Events moved to a consumer's dead-letter subject.", ["consumer"])
CONSUMER_PAUSED = Gauge(
    "crm_consumer_paused", "1 while a durable consumer is paused for an infrastructure outage, else 0.", ["consumer"]
)
DEAD_LETTERS_WAITING = Gauge(
    "crm_dead_letters_waiting", "Dead letters of a consumer still in the dead-letter stream.", ["consumer"]
)
STREAM_USAGE = Gauge(
    "crm_stream_usage_ratio", "Share of a stream's byte limit in use (0 when it has none).", ["stream"]
)

# Dependencies (internal and external).
DEPENDENCY_UP = Gauge("crm_dependency_up", "1 when a dependency answers its health probe, else 0.", ["dependency"])

# Business.
LEADS_CAPTURED = Counter("crm_leads_captured_total", "Leads captured, by source channel.", ["channel"])
LEAD_TIME_TO_ASSIGNMENT = Histogram(
    "crm_lead_time_to_assignment_seconds", "Time from capture to assignment.", buckets=JOURNEY_BUCKETS
)
LEAD_TIME_TO_FIRST_CONTACT = Histogram(
    "crm_lead_time_to_first_contact_seconds", "Time from capture to the first contact.", buckets=JOURNEY_BUCKETS
)
CUSTOMERS_RESOLVED = Counter(
    "crm_customers_resolved_total", "Customer resolutions, by how the customer was found.", ["matched_on"]
)
NOTIFICATIONS = Counter("crm_notifications_total", "Notifications by channel and final status.", ["channel", "status"])
OPPORTUNITIES_OPENED = Counter("crm_opportunities_opened_total", "Opportunities opened from contacted leads.")
PIPELINE_STAGE_CHANGES = Counter(
    "crm_pipeline_stage_changes_total",
    "Stage change requests, by outcome (moved, override, approval_requested, refused, conflict).",
    ["outcome"],
)
PIPELINE_STAGE_CHANGE_DURATION = Histogram(
    "crm_pipeline_stage_change_duration_seconds",
    "Time to evaluate the gates of and apply one stage change, in the service.",
    buckets=LATENCY_BUCKETS,
)
PIPELINE_APPROVALS_WAITING = Gauge("crm_pipeline_approvals_waiting", "Approval requests waiting for a decision.")
PIPELINE_STALLS = Counter(
    "crm_pipeline_stalls_total", "Stalls raised, by kind (stall, escalate, legal).", ["kind"]
)
PIPELINE_STALL_LATENESS = Histogram(
    "crm_pipeline_stall_lateness_seconds",
    "How long after its due time a stall was raised (the promise: under 5 s).",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60),
)
WEBHOOKS_RECEIVED = Counter(
    "crm_webhooks_received_total", "Inbound webhooks, by source and outcome.", ["source", "outcome"]
)
WEBHOOK_DELIVERIES = Counter(
    "crm_webhook_deliveries_total", "Outbound webhook delivery attempts, by outcome.", ["outcome"]
)


# Lead routing clocks (lead service): what is waiting, for how long, and what the clocks did.
LEADS_WAITING = Gauge(
    "crm_leads_waiting", "Leads currently waiting, by state (unassigned, unclaimed, uncontacted).", ["state"]
)
LEAD_OLDEST_WAITING = Gauge("crm_lead_oldest_waiting_seconds", "Age of the oldest lead waiting in a state.", ["state"])
LEAD_REROUTES = Counter("crm_lead_reroutes_total", "Leads moved from one owner to another, by reason.", ["reason"])
LEAD_POOL_RETURNS = Counter("crm_lead_pool_returns_total", "Leads returned to the public pool.")
LEAD_SLA_BREACHES = Counter(
    "crm_lead_sla_breaches_total", "Lead clocks that ran out, by kind (claim, first_contact).", ["kind"]
)
LEADS_QUARANTINED = Counter(
    "crm_leads_quarantined_total", "Submissions kept in quarantine for failing a business rule, by rule.", ["rule"]
)
LEAD_ROUTING_DURATION = Histogram(
    "crm_lead_routing_decision_seconds",
    "Time to take one routing decision (rule match and pick).",
    buckets=LATENCY_BUCKETS,
)


# Notification channels (notification service).
NOTIFICATION_TOKEN_EXPIRY = Gauge(
    "crm_notification_token_expiry_seconds",
    "Seconds until a channel's cached access token expires (negative: expired or none).",
    ["channel"],
)
NOTIFICATION_DELIVERY = Histogram(
    "crm_notification_delivery_seconds",
    "Time from the triggering event to delivery, by channel.",
    ["channel"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)
NOTIFICATION_CHANNEL_DEGRADED = Gauge(
    "crm_notification_channel_degraded", "1 when a notification channel is degraded, else 0.", ["channel"]
)


# Customer master: data health and matching (customer-master service).
CUSTOMER_DUPLICATE_RATE = Gauge(
    "crm_customer_duplicate_rate", "Share of customer source records that were folded into another record."
)
CUSTOMER_RECORDS_MISSING = Gauge(
    "crm_customer_records_missing", "Live customer records missing a field (phone, credit_code).", ["field"]
)
CUSTOMER_STALE_RECORDS = Gauge("crm_customer_stale_records", "Live customer records untouched for a year.")
CUSTOMER_MATCH_DURATION = Histogram(
    "crm_customer_match_seconds", "Time to find and score the candidates of one record.", buckets=LATENCY_BUCKETS
)
CUSTOMER_REVIEW_QUEUE_SIZE = Gauge("crm_customer_review_queue_size", "Uncertain pairs waiting for a steward.")


# Label values come from bounded sets: a value a client or partner chose (a lead's source channel, a webhook's
# source name) is counted under its own name only when configuration names it, else under OTHER. Free input as
# a label would grow the series without bound and put whatever a caller typed (a name, a phone) in the metrics.
OTHER = "other"


def bounded_label(value: str, known: Collection[str]) -> str:
    """`value` when it is one of the known (configured) values, else "other"."""
    return value if value in known else OTHER


def observe_with_trace(histogram: Histogram, value: float) -> None:
    """Observe a value with the active trace id as exemplar, so a panel can jump to the trace."""
    trace_id = trace_id_of()
    histogram.observe(value, exemplar={"trace_id": trace_id} if trace_id else None)


def start_metrics_server(port: int) -> int:
    """Serve /metrics on its own port (0 picks a free one); returns the port."""
    server, _thread = start_http_server(port, addr="0.0.0.0")
    return int(server.server_port)
