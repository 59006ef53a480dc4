"""The managers' dashboard over the reporting projections: SQL on a PostgreSQL data source, not PromQL.

Its panels read the projection tables of services/reporting/projections/schema.py (schema `reporting`):
lead_fact, opportunity_fact, stage_visit, stage_action. Grafana's $__timeFilter selects the time range
the dashboard shows; one PromQL panel shows how far the projections trail the events.
"""

from __future__ import annotations

import json
from typing import Any

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.cog.encoder import JSONEncoder

UID = "crm-reporting"
SCHEMA = "reporting"
POSTGRES = {"type": "grafana-postgresql-datasource", "uid": "${reporting_db}"}
PROMETHEUS = {"type": "prometheus", "uid": "${datasource}"}
PROJECTION_LAG = "max by (consumer) (crm_projection_lag_seconds)"

# Leads captured in the range and how far each got; the opportunity steps count leads, not opportunities.
FUNNEL_SQL = f"""SELECT
  count(DISTINCT l.lead_id) AS "Captured",
  count(DISTINCT l.lead_id) FILTER (WHERE l.first_assigned_at IS NOT NULL) AS "Assigned",
  count(DISTINCT l.lead_id) FILTER (WHERE l.claimed_at IS NOT NULL) AS "Claimed",
  count(DISTINCT l.lead_id) FILTER (WHERE l.first_contact_at IS NOT NULL) AS "Contacted",
  count(DISTINCT o.lead_id) AS "Opportunity",
  count(DISTINCT o.lead_id) FILTER (WHERE o.status = 'won') AS "Won"
FROM {SCHEMA}.lead_fact l LEFT JOIN {SCHEMA}.opportunity_fact o USING (lead_id)
WHERE $__timeFilter(l.captured_at)"""

STAGES_SQL = f"""SELECT v.stage AS "Stage", count(*) AS "Opportunities"
FROM {SCHEMA}.stage_visit v
WHERE $__timeFilter(v.entered_at)
GROUP BY v.stage
ORDER BY count(*) DESC"""

STAGE_ACTION_SQL = f"""SELECT a.stage, a.action, count(*) AS done
FROM {SCHEMA}.stage_action a
WHERE $__timeFilter(a.completed_at)
GROUP BY a.stage, a.action
ORDER BY a.stage, a.action"""

OUTCOMES_SQL = f"""SELECT o.status AS "Status", count(*) AS "Opportunities"
FROM {SCHEMA}.opportunity_fact o
WHERE $__timeFilter(o.opened_at)
GROUP BY o.status
ORDER BY o.status"""


def _sql(sql: str) -> dict[str, Any]:
    return {"refId": "A", "datasource": POSTGRES, "rawSql": sql, "rawQuery": True, "editorMode": "code",
            "format": "table"}


def _panel(kind: str, title: str, description: str, grid: tuple[int, int, int, int], **extra: Any) -> dict[str, Any]:
    x, y, w, h = grid
    return {"type": kind, "title": title, "description": description,
            "gridPos": {"x": x, "y": y, "w": w, "h": h}, **extra}


def panels() -> list[dict[str, Any]]:
    """The panels, each with its query."""
    return [
        _panel(
            "bargauge", "Lead funnel",
            "Leads captured in the range and how many were assigned, claimed, contacted, became an opportunity, won.",
            (0, 0, 24, 8), datasource=POSTGRES, targets=[_sql(FUNNEL_SQL)],
            options={"orientation": "vertical", "displayMode": "gradient", "showUnfilled": True,
                     "reduceOptions": {"values": False, "calcs": ["lastNotNull"], "fields": ""}},
            fieldConfig={"defaults": {"unit": "short", "min": 0}, "overrides": []},
        ),
        _panel(
            "table", "Stage × action",
            "Required actions done per stage, first time (rows: stages, columns: actions; darker is more).",
            (0, 8, 16, 10), datasource=POSTGRES, targets=[_sql(STAGE_ACTION_SQL)],
            transformations=[{"id": "groupingToMatrix",
                              "options": {"rowField": "stage", "columnField": "action", "valueField": "done",
                                          "emptyValue": "zero"}}],
            fieldConfig={"defaults": {"unit": "short", "color": {"mode": "continuous-BlYlRd"},
                                      "custom": {"cellOptions": {"type": "color-background"}}},
                         "overrides": [{"matcher": {"id": "byName", "options": "stage\\action"},
                                        "properties": [{"id": "custom.cellOptions", "value": {"type": "auto"}}]}]},
        ),
        _panel(
            "bargauge", "Opportunities reaching each stage",
            "Opportunities that entered each stage in the range.",
            (16, 8, 8, 10), datasource=POSTGRES, targets=[_sql(STAGES_SQL)],
            options={"orientation": "horizontal", "displayMode": "basic",
                     "reduceOptions": {"values": True, "calcs": [], "fields": "/^Opportunities$/"}},
        ),
        _panel(
            "piechart", "Opportunities by status",
            "Opportunities opened in the range: open, won, lost.",
            (0, 18, 12, 8), datasource=POSTGRES, targets=[_sql(OUTCOMES_SQL)],
            options={"reduceOptions": {"values": True, "calcs": [], "fields": "/^Opportunities$/"}},
        ),
        _panel(
            "timeseries", "Projection lag",
            "Seconds from an event's publication to its projection, by consumer: how stale these numbers are.",
            (12, 18, 12, 8), datasource=PROMETHEUS,
            targets=[{"refId": "A", "datasource": PROMETHEUS, "expr": PROJECTION_LAG, "legendFormat": "{{consumer}}"}],
            fieldConfig={"defaults": {"unit": "s"}, "overrides": []},
        ),
    ]


def build() -> dict[str, Any]:
    """The dashboard as the JSON model Grafana imports."""
    board = (
        dashboard.Dashboard("CRM / Reporting")
        .uid(UID)
        .description("For managers: the lead funnel and stage × action from the reporting projections.")
        .tags(["crm"])
        .editable()
        .time("now-30d", "now")
        .refresh("5m")
        .timezone("browser")
        .with_variable(
            dashboard.DatasourceVariable("reporting_db").label("Reporting database").type("grafana-postgresql-datasource")
        )
        .with_variable(dashboard.DatasourceVariable("datasource").label("Prometheus").type("prometheus"))
    )
    model = json.loads(json.dumps(board.build(), cls=JSONEncoder))
    model["panels"] = [{"id": index + 1, **panel} for index, panel in enumerate(panels())]
    return model


def render() -> str:
    """The dashboard's file content: stable, sorted JSON."""
    return json.dumps(build(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
