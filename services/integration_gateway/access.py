"""Each RPC's cell of the access matrix: webhooks from the systems allowed to send them, configuration by admins."""

from __future__ import annotations

from crm_common.access import Action, Resource, guard

guarded = guard({
    "ReceiveWebhook": (Resource.WEBHOOK, Action.CREATE),
    "GetWebhookReceipt": (Resource.WEBHOOK, Action.CREATE),
    "PutSource": (Resource.INTEGRATION, Action.UPDATE),
    "GetSource": (Resource.INTEGRATION, Action.READ),
    "CreateSubscription": (Resource.SUBSCRIPTION, Action.CREATE),
    "GetSubscription": (Resource.SUBSCRIPTION, Action.READ),
    "RotateSubscriptionSecret": (Resource.SUBSCRIPTION, Action.ACT),
    "ListDeliveries": (Resource.SUBSCRIPTION, Action.READ),
    "RecoverDeliveries": (Resource.SUBSCRIPTION, Action.ACT),
    "ReplayDelivery": (Resource.SUBSCRIPTION, Action.ACT),
    "PutDependency": (Resource.DEPENDENCY, Action.UPDATE),
    "ListDependencies": (Resource.DEPENDENCY, Action.READ),
})
