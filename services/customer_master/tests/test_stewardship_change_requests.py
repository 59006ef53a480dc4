"""Change requests decided by the field's owner: applied with history, refused when stale or decided."""

from __future__ import annotations

import grpc
import pytest

from crm.customer.v1 import customer_pb2, customer_pb2_grpc
from crm_common.errors import field_violations_of
from customer_master.tests.test_stewardship import phone, resolve, unique_name

Stub = customer_pb2_grpc.CustomerServiceStub
DIRECTOR = "customer_success_director"
CODE = "91350100M000100Y43"


async def file(stub: Stub, customer_id: str, field: str, value: str, reason: str = "card") -> str:
    filed = await stub.FileChangeRequest(
        customer_pb2.FileChangeRequestRequest(
            customer_id=customer_id, field=field, value=value, actor_id="rep-1", reason=reason
        ),
        timeout=5,
    )
    return filed.change_request_id


async def approve(stub: Stub, request_id: str, role: str = DIRECTOR) -> customer_pb2.ApproveChangeRequestResponse:
    return await stub.ApproveChangeRequest(
        customer_pb2.ApproveChangeRequestRequest(
            change_request_id=request_id, actor_id="csd-1", actor_role=role, reason="checked the licence"
        ),
        timeout=5,
    )


async def error_of(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    return caught.value


async def test_the_owner_approves_and_the_change_is_in_the_history(stub: Stub) -> None:
    created = await resolve(stub, company=unique_name() + "有限公司", phone=phone())
    customer_id = created.customer.id
    request_id = await file(stub, customer_id, "credit_code", CODE)
    listed = await stub.ListChangeRequests(customer_pb2.ListChangeRequestsRequest(customer_id=customer_id), timeout=5)
    assert [(r.id, r.status, r.field, r.value, r.old_value) for r in listed.change_requests] == [
        (request_id, "open", "credit_code", CODE, "")
    ]

    denied = await error_of(approve(stub, request_id, role="sales_rep"))
    assert denied.code() == grpc.StatusCode.PERMISSION_DENIED
    assert DIRECTOR in (denied.details() or "")

    approved = await approve(stub, request_id)
    assert approved.customer.credit_code == CODE
    assert (approved.change_request.status, approved.change_request.decided_by) == ("approved", "csd-1")
    assert approved.change_request.decided_role == DIRECTOR

    history = await stub.GetHistory(customer_pb2.GetHistoryRequest(customer_id=customer_id), timeout=5)
    change = history.changes[0]
    assert (change.field, change.old_value, change.new_value, change.actor_id, change.actor_role) == (
        "credit_code",
        "",
        CODE,
        "csd-1",
        DIRECTOR,
    )
    assert change.change_request_id == request_id
    assert request_id in change.reason and "checked the licence" in change.reason

    again = await error_of(approve(stub, request_id))
    assert again.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "already approved" in (again.details() or "")
    still_open = await stub.ListChangeRequests(
        customer_pb2.ListChangeRequestsRequest(customer_id=customer_id), timeout=5
    )
    assert list(still_open.change_requests) == []
    every = await stub.ListChangeRequests(
        customer_pb2.ListChangeRequestsRequest(customer_id=customer_id, status="all"), timeout=5
    )
    assert [r.status for r in every.change_requests] == ["approved"]


async def test_a_request_on_a_changed_record_is_refused_not_applied(stub: Stub) -> None:
    created = await resolve(stub, company=unique_name() + "有限公司")
    customer_id = created.customer.id
    request_id = await file(stub, customer_id, "first_cooperation_date", "2024-03-01")
    await stub.UpdateCustomerField(
        customer_pb2.UpdateCustomerFieldRequest(
            customer_id=customer_id,
            field="first_cooperation_date",
            value="2023-01-15",
            actor_id="csd-2",
            actor_role=DIRECTOR,
            reason="contract found",
        ),
        timeout=5,
    )
    stale = await error_of(approve(stub, request_id))
    assert stale.code() == grpc.StatusCode.ABORTED
    assert "changed since the request was filed" in (stale.details() or "")
    got = await stub.GetCustomer(customer_pb2.GetCustomerRequest(customer_id=customer_id), timeout=5)
    assert got.customer.first_cooperation_date == "2023-01-15"
    listed = await stub.ListChangeRequests(customer_pb2.ListChangeRequestsRequest(customer_id=customer_id), timeout=5)
    assert [r.status for r in listed.change_requests] == ["open"]


async def test_reject_needs_a_reason_and_closes_the_request(stub: Stub) -> None:
    created = await resolve(stub, company=unique_name() + "有限公司")
    customer_id = created.customer.id
    request_id = await file(stub, customer_id, "company", "另一家公司有限公司")
    no_reason = await error_of(
        stub.RejectChangeRequest(
            customer_pb2.RejectChangeRequestRequest(
                change_request_id=request_id, actor_id="csd-1", actor_role=DIRECTOR
            ),
            timeout=5,
        )
    )
    assert [v.field for v in field_violations_of(no_reason)] == ["reason"]
    rejected = await stub.RejectChangeRequest(
        customer_pb2.RejectChangeRequestRequest(
            change_request_id=request_id, actor_id="csd-1", actor_role=DIRECTOR, reason="not the same entity"
        ),
        timeout=5,
    )
    assert (rejected.change_request.status, rejected.change_request.decision_reason) == (
        "rejected",
        "not the same entity",
    )
    decided = await error_of(approve(stub, request_id))
    assert decided.code() == grpc.StatusCode.FAILED_PRECONDITION
    got = await stub.GetCustomer(customer_pb2.GetCustomerRequest(customer_id=customer_id), timeout=5)
    assert got.customer.company == created.customer.company
    history = await stub.GetHistory(customer_pb2.GetHistoryRequest(customer_id=customer_id), timeout=5)
    first = history.changes[0]
    assert (first.field, first.reason, first.change_request_id) == (
        "change_request:company",
        "not the same entity",
        request_id,
    )


async def test_bad_input_is_named(stub: Stub) -> None:
    created = await resolve(stub, company=unique_name() + "有限公司")
    bad_value = await error_of(file(stub, created.customer.id, "credit_code", "91350100M000100Y44"))
    assert [v.field for v in field_violations_of(bad_value)] == ["value"]
    bad_status = await error_of(
        stub.ListChangeRequests(customer_pb2.ListChangeRequestsRequest(status="pending"), timeout=5)
    )
    assert [v.field for v in field_violations_of(bad_status)] == ["status"]
    unknown = await error_of(approve(stub, "00000000-0000-0000-0000-000000000000"))
    assert unknown.code() == grpc.StatusCode.NOT_FOUND
    nobody = await error_of(
        stub.ApproveChangeRequest(
            customer_pb2.ApproveChangeRequestRequest(change_request_id="x", actor_role=DIRECTOR), timeout=5
        )
    )
    assert nobody.code() == grpc.StatusCode.NOT_FOUND
