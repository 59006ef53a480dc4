"""The API's routers, gathered in one place."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.api.routes import health, leads, reports, reps, webhooks

api_router = APIRouter()
api_router.include_router(health.router)
api_router.include_router(leads.router)
api_router.include_router(webhooks.router)
api_router.include_router(reports.router)
api_router.include_router(reps.router)
