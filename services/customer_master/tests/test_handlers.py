"""CustomerService through an in-process gRPC server: status codes and messages as callers see them."""

from __future__ import annotations

import random
import uuid

import grpc
import pytest

from crm.customer.v1 import customer_pb2, customer_pb2_grpc
from crm_common.errors import field_violations_of


async def test_resolve_then_get(stub: customer_pb2_grpc.CustomerServiceStub) -> None:
    phone = f"+86137{random.randrange(10**8):08d}"
    created = await stub.ResolveCustomer(
        customer_pb2.ResolveCustomerRequest(
            name="Zhang", company="ＡＢＣ Co., Ltd.", phone=phone, email=" Z@X.cn", source_ref="lead:h1"
        ),
        timeout=5,
    )
    assert created.created and created.matched_on == ""
    assert created.customer.phone == phone
    assert created.customer.email == "z@x.cn"
    assert created.customer.company == "ＡＢＣ Co., Ltd."

    matched = await stub.ResolveCustomer(customer_pb2.ResolveCustomerRequest(company="abc co ltd"), timeout=5)
    assert (matched.created, matched.matched_on, matched.customer.id) == (False, "company", created.customer.id)

    got = await stub.GetCustomer(customer_pb2.GetCustomerRequest(customer_id=created.customer.id), timeout=5)
    assert got.customer == created.customer


async def test_resolve_without_keys_is_invalid_argument_naming_the_fields(
    stub: customer_pb2_grpc.CustomerServiceStub,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.ResolveCustomer(customer_pb2.ResolveCustomerRequest(name="nobody"), timeout=5)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert {v.field for v in field_violations_of(caught.value)} == {"phone", "email", "company"}


async def test_resolve_with_a_bad_phone_is_invalid_argument(stub: customer_pb2_grpc.CustomerServiceStub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.ResolveCustomer(customer_pb2.ResolveCustomerRequest(phone="12345"), timeout=5)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in field_violations_of(caught.value)] == ["phone"]


@pytest.mark.parametrize("customer_id", ["", "not-a-uuid", str(uuid.uuid4())])
async def test_get_unknown_or_malformed_customer_is_not_found(
    stub: customer_pb2_grpc.CustomerServiceStub, customer_id: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetCustomer(customer_pb2.GetCustomerRequest(customer_id=customer_id), timeout=5)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
