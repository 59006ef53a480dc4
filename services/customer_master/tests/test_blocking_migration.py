"""Migration 0003 gives the customers stored before it the new search keys, with their weights, core and place."""

from __future__ import annotations

import asyncio
import uuid

import psycopg
from alembic import command

from crm_common.migrations import alembic_config
from customer_master.app import DEFINITION
from customer_master.names import normalize_company_name


def _migrate(url: str, revision: str) -> None:
    command.upgrade(alembic_config(DEFINITION.migrations_dir, url=url, schema=DEFINITION.schema), revision)


async def test_existing_customers_get_the_new_keys(fresh_db_url: str) -> None:
    await asyncio.to_thread(_migrate, fresh_db_url, "0002")
    libpq = fresh_db_url.replace("postgresql+psycopg://", "postgresql://")
    customer_id, company = uuid.uuid4(), "浙江省杭州市华信实业科技有限公司"
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO customer_master.customers (id, name, company) VALUES (%s, '', %s)", (customer_id, company)
        )
        # A key of the old kind (a pair that skips a character), which the new search never asks for.
        conn.execute(
            "INSERT INTO customer_master.customer_grams (gram, customer_id) VALUES ('华*实', %s)", (customer_id,)
        )
    await asyncio.to_thread(_migrate, fresh_db_url, "head")
    with psycopg.connect(libpq) as conn:
        rows = conn.execute(
            "SELECT gram, weight, core, place FROM customer_master.customer_grams WHERE customer_id = %s",
            (customer_id,),
        ).fetchall()
    expected = normalize_company_name(company).grams
    assert sorted(r[0] for r in rows) == sorted(expected)
    assert {(r[1], r[2], r[3]) for r in rows} == {(1.0 / len(expected), "华信实业科技", "浙江")}
