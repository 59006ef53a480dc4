"""What a notification of a kind says: the team's saved template for it, else the built-in one."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from notification import config_cache, config_repository, domain, templates
from notification.templates import Rendered, Template


def template_of(row: Row) -> Template:
    return Template(name=row.name, title=row.title, body=row.body, placeholder=row.placeholder, fields=tuple(row.fields))


async def find_template(conn: AsyncConnection, name: str) -> Template | None:
    """A saved template, else a built-in one of that name, else None."""
    row = await config_repository.get_template(conn, name=name)
    if row is not None:
        return template_of(row)
    return templates.BUILT_IN.get(name)


async def render_kind(conn: AsyncConnection, kind: str, values: Mapping[str, str]) -> Rendered:
    """Render a notification of a kind; never fails, whatever the values leave empty."""
    row = await config_cache.template(conn, kind)
    if row is not None:
        return templates.render(template_of(row), values)
    if kind == domain.LEAD_ASSIGNED:
        return domain.render_lead_assigned_values(
            lead_name=values.get("lead_name", ""), company=values.get("company", ""), channel=values.get("channel", "")
        )
    built_in = templates.BUILT_IN.get(kind) or Template(kind, kind.replace("_", " ").capitalize(), "{lead_id}")
    return templates.render(built_in, values)
