"""Webhooks come from the systems the access matrix lets send them (and read their receipts)."""

from __future__ import annotations

from crm_common.access import Action, Resource, guard

guarded = guard({
    "ReceiveWebhook": (Resource.WEBHOOK, Action.CREATE),
    "GetWebhookReceipt": (Resource.WEBHOOK, Action.CREATE),
})
