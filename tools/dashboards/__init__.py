"""Grafana dashboards as code: definitions.py declares them, build() renders them with grafana-foundation-sdk."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from grafana_foundation_sdk.builders import dashboard, prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DashboardLinkType, DataSourceRef

from tools.dashboards import reporting
from tools.dashboards.definitions import DASHBOARDS, DashboardSpec, PanelSpec

__all__ = ["DASHBOARDS", "build", "files", "render"]

PROMETHEUS = DataSourceRef(type_val="prometheus", uid="${datasource}")
PANEL_HEIGHT = 8


def _explore(datasource: str, query: dict[str, str]) -> str:
    """A Grafana Explore URL on the Tempo data source variable with one query."""
    state = {"datasource": datasource, "queries": [{"refId": "A", "datasource": {"uid": datasource}, **query}]}
    return "/explore?schemaVersion=1&panes=" + urllib.parse.quote(
        json.dumps({"trace": state}, separators=(",", ":")), safe="$:{}"
    )


# The trace behind a trace id (from GET /v1/leads/{id}, a log line or an exemplar), and every trace of a
# lead id: its spans carry the crm.lead.id attribute.
TRACE_LINK = _explore("${tempo}", {"queryType": "traceql", "query": "${trace_id}"})
# An exemplar point's own trace: exemplars carry the trace_id label (crm_common.metrics.observe_with_trace).
EXEMPLAR_LINK = _explore("${tempo}", {"queryType": "traceql", "query": "${__data.fields.trace_id}"})
LEAD_LINK = _explore("${tempo}", {"queryType": "traceql", "query": '{ span.crm.lead.id = "${lead_id}" }'})


def _panel(spec: PanelSpec) -> Any:
    builder = stat.Panel() if spec.kind == "stat" else timeseries.Panel()
    builder = (
        builder.title(spec.title)
        .description(spec.description)
        .datasource(PROMETHEUS)
        .unit(spec.unit)
        .height(PANEL_HEIGHT)
        .span(spec.width)
    )
    for index, query in enumerate(spec.queries):
        target = (
            prometheus.Dataquery()
            .ref_id(chr(ord("A") + index))
            .expr(query.expr)
            .legend_format(query.legend or "__auto")
            .datasource(PROMETHEUS)
        )
        if spec.kind == "stat":
            target = target.instant()
        if spec.exemplars:
            target = target.exemplar(True)
        builder = builder.with_target(target)
    if spec.exemplars:
        builder = builder.data_links(
            [dashboard.DashboardLink("Open this point's trace").url(EXEMPLAR_LINK).target_blank(True)]
        )
    return builder


def build(spec: DashboardSpec) -> dict[str, Any]:
    """One dashboard as the JSON model Grafana imports."""
    board = (
        dashboard.Dashboard(spec.title)
        .uid(spec.uid)
        .description(spec.description)
        .tags(["crm"])
        .editable()
        .time("now-1h", "now")
        .refresh("30s")
        .timezone("browser")
        .with_variable(dashboard.DatasourceVariable("datasource").label("Prometheus").type("prometheus"))
        .with_variable(dashboard.DatasourceVariable("tempo").label("Tempo").type("tempo"))
        .with_variable(
            dashboard.QueryVariable("service")
            .label("service")
            .datasource(PROMETHEUS)
            .query("label_values(crm_dependency_up, service)")
            .multi(True)
            .include_all(True)
            .all_value(".*")
        )
        .with_variable(dashboard.TextBoxVariable("trace_id").label("trace id"))
        .with_variable(dashboard.TextBoxVariable("lead_id").label("lead id"))
        .link(
            dashboard.DashboardLink("Open trace ${trace_id}")
            .type(DashboardLinkType.LINK)
            .url(TRACE_LINK)
            .icon("external link")
            .target_blank(True)
        )
        .link(
            dashboard.DashboardLink("Traces of lead ${lead_id}")
            .type(DashboardLinkType.LINK)
            .url(LEAD_LINK)
            .icon("external link")
            .target_blank(True)
        )
        .link(
            dashboard.DashboardLink("CRM dashboards")
            .type(DashboardLinkType.DASHBOARDS)
            .tags(["crm"])
            .as_dropdown(True)
            .keep_time(True)
            .include_vars(True)
        )
    )
    for panel in spec.panels:
        board = board.with_panel(_panel(panel))
    return json.loads(json.dumps(board.build(), cls=JSONEncoder))


def render(spec: DashboardSpec) -> str:
    """The dashboard's file content: stable, sorted JSON."""
    return json.dumps(build(spec), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def files() -> dict[str, str]:
    """Every dashboard file of the chart by name: the PromQL dashboards and the reporting (SQL) one."""
    return {f"{spec.uid}.json": render(spec) for spec in DASHBOARDS} | {f"{reporting.UID}.json": reporting.render()}
