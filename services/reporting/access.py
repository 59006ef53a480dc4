"""Reports are figures: the roles the access matrix lets read reports, nobody else."""

from __future__ import annotations

from crm_common.access import Action, Resource, guard

guarded = guard({"GetLeadResponseReport": (Resource.REPORT, Action.READ)})
