"""The API's routers, gathered in one place."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.api.routes import contacts, customers, health, leads, reports, reps, routing, webhooks
from gateway.api.routes import notifications as notification_admin

api_router = APIRouter()
api_router.include_router(health.router)
api_router.include_router(leads.router)
api_router.include_router(webhooks.router)
api_router.include_router(reports.router)
api_router.include_router(reps.router)
api_router.include_router(routing.router)
api_router.include_router(notification_admin.router)
api_router.include_router(customers.router)
api_router.include_router(contacts.router)
