"""Who may call which RPC: the access matrix's cells (a rep's reports are filtered to their rows in the handler)."""

from __future__ import annotations

from crm_common.access import Action, Resource, guard

guarded = guard(
    {
        "GetLeadResponseReport": (Resource.REPORT, Action.READ),
        "GetReport": (Resource.SALES_REPORT, Action.READ),
        # A stream: the handler checks the matrix itself (the guard wraps unary calls).
    "ExportReport": None,
        "ListExports": (Resource.REPORT_EXPORT, Action.READ),
    }
)
