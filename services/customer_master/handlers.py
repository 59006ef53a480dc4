"""gRPC CustomerService: translates requests to the resolution, stewardship and repository calls."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from crm.customer.v1 import customer_pb2, customer_pb2_grpc
from crm_common.errors import FieldViolation, InvalidArgument, NotFound
from crm_common.service import Runtime
from customer_master import access, dedup_jobs, dedup_repository, repository, stewardship
from customer_master.convert import (
    change_message,
    change_request_message,
    customer_message,
    dedup_cluster_message,
    dedup_job_message,
    review_message,
    rules_from_json,
    to_json,
)
from customer_master.domain import normalize_company, normalize_email, normalize_phone
from customer_master.matching import Record
from customer_master.resolution import (
    MATCH_RULES_KEY,
    ResolveRequest,
    credit_code_violations,
    forget_rules,
    load_rules,
    resolve_customer,
    scored_candidates,
)
from customer_master.settings import CustomerMasterSettings
from customer_master.stewardship import Actor, parse_id

REVIEW_STATUSES = ("pending", "deferred", "accepted", "rejected")
CHANGE_REQUEST_STATUSES = ("open", "approved", "rejected", "all")


@access.guarded_customers
class CustomerServicer(customer_pb2_grpc.CustomerServiceServicer):
    """crm.customer.v1.CustomerService."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        settings = runtime.settings
        self.settings = settings if isinstance(settings, CustomerMasterSettings) else CustomerMasterSettings()
        # Set by build(): tells the dedup worker a job was queued (it also polls, so None only delays a job).
        self.dedup_wake: Callable[[], None] | None = None

    async def ResolveCustomer(
        self, request: customer_pb2.ResolveCustomerRequest, context: grpc.aio.ServicerContext
    ) -> customer_pb2.ResolveCustomerResponse:
        resolution = await resolve_customer(
            self.runtime,
            ResolveRequest(
                name=request.name,
                company=request.company,
                phone=request.phone,
                email=request.email,
                source_ref=request.source_ref,
                credit_code=request.credit_code,
            ),
        )
        return customer_pb2.ResolveCustomerResponse(
            customer=customer_message(resolution.customer),
            created=resolution.created,
            matched_on=resolution.matched_on,
            review_id=resolution.review_id,
            explanation=to_json(resolution.explanation),
        )

    async def GetCustomer(
        self, request: customer_pb2.GetCustomerRequest, context: grpc.aio.ServicerContext
    ) -> customer_pb2.GetCustomerResponse:
        customer_id = parse_id(request.customer_id, "customer")
        async with self.runtime.db.connect() as conn:
            row = await repository.get_customer(conn, customer_id=customer_id)
        if row is None:
            raise NotFound(f"customer {request.customer_id!r} not found")
        reply = customer_pb2.GetCustomerResponse(customer=customer_message(row))
        await access.shown(self.runtime, await access.decision_for(self.runtime, str(row.id)), "customer", [reply.customer])
        return reply

    async def MatchCustomer(
        self, request: customer_pb2.MatchCustomerRequest, context: grpc.aio.ServicerContext
    ) -> customer_pb2.MatchCustomerResponse:
        violations = credit_code_violations(request.credit_code)
        # A company of punctuation and spaces only ("（）") names nothing to match.
        if not any((normalize_company(request.company), request.phone, request.email, request.credit_code)):
            violations.append(FieldViolation("company", "at least one of company, phone, email or credit_code"))
        if violations:
            raise InvalidArgument(violations)
        query = Record(
            company=request.company,
            credit_code=request.credit_code,
            phone=normalize_phone(request.phone) or "",
            email=normalize_email(request.email) or "",
            contact=request.name,
        )
        async with self.runtime.db.transaction() as conn:
            found = await scored_candidates(conn, query, await load_rules(conn), limit=max(request.limit, 0) or 10)
        reply = customer_pb2.MatchCustomerResponse(
            candidates=[
                customer_pb2.Candidate(
                    customer=customer_message(c.row),
                    score=c.result.score,
                    decision=c.result.decision,
                    explanation=to_json(c.result.explanation()),
                )
                for c in found[: request.limit or 10]
            ]
        )
        await access.shown_candidates(self.runtime, access.Resource.CUSTOMER, list(reply.candidates))
        return reply

    async def ListReviews(
        self, request: customer_pb2.ListReviewsRequest, context: grpc.aio.ServicerContext
    ) -> customer_pb2.ListReviewsResponse:
        status = request.status or "pending"
        if status not in REVIEW_STATUSES:
            raise InvalidArgument([FieldViolation("status", f"must be one of {', '.join(REVIEW_STATUSES)}")])
        async with self.runtime.db.connect() as conn:
            rows = await repository.list_reviews(conn, status=status, limit=min(request.limit or 100, 1000))
        return customer_pb2.ListReviewsResponse(reviews=[review_message(r) for r in rows])

    async def DecideReview(
        self, request: customer_pb2.DecideReviewRequest, context: grpc.aio.ServicerContext
    ) -> customer_pb2.DecideReviewResponse:
        review_id = parse_id(request.review_id, "review")
        async with self.runtime.db.transaction() as conn:
            review, merge_id = await stewardship.decide_review(
                self.runtime,
                conn,
                review_id=review_id,
                decision=request.decision,
                actor=Actor(access.actor_id(request.actor_id), reason=request.reason),
            )
        return customer_pb2.DecideReviewResponse(review=review_message(review), merge_id=merge_id)

    async def MergeCustomers(
        self, request: customer_pb2.MergeCustomersRequest, context: grpc.aio.ServicerContext
    ) -> customer_pb2.MergeCustomersResponse:
        survivor_id = parse_id(request.survivor_id, "customer")
        merged_id = parse_id(request.merged_id, "customer")
        async with self.runtime.db.transaction() as conn:
            merge, survivor = await stewardship.merge_customers(
                self.runtime,
                conn,
                survivor_id=survivor_id,
                merged_id=merged_id,
                actor=Actor(access.actor_id(request.actor_id), reason=request.reason),
            )
        return customer_pb2.MergeCustomersResponse(merge_id=str(merge.id), survivor=customer_message(survivor))

    async def UnmergeCustomers(
        self, request: customer_pb2.UnmergeCustomersRequest, context: grpc.aio.ServicerContext
    ) -> customer_pb2.UnmergeCustomersResponse:
        merge_id = parse_id(request.merge_id, "merge")
        async with self.runtime.db.transaction() as conn:
            survivor, restored = await stewardship.unmerge(
                self.runtime, conn, merge_id=merge_id, actor=Actor(access.actor_id(request.actor_id), reason=request.reason)
            )
        return customer_pb2.UnmergeCustomersResponse(
            survivor=customer_message(survivor), restored=customer_message(restored)
        )

    async def GetHistory(
        self, request: customer_pb2.GetHistoryRequest, context: grpc.aio.ServicerContext
    ) -> customer_pb2.GetHistoryResponse:
        customer_id = parse_id(request.customer_id, "customer")
        async with self.runtime.db.connect() as conn:
            if await repository.get_customer(conn, customer_id=customer_id) is None:
                raise NotFound(f"customer {customer_id} not found")
            rows = await repository.list_changes(conn, customer_id=customer_id)
        reply = customer_pb2.GetHistoryResponse(changes=[change_message(r) for r in rows])
        access.mask_history(await access.decision_for(self.runtime, str(customer_id)), list(reply.changes))
        return reply

    async def UpdateCustomerField(
        self, request: customer_pb2.UpdateCustomerFieldRequest, context: grpc.aio.ServicerContext
    ) -> customer_pb2.UpdateCustomerFieldResponse:
        customer_id = parse_id(request.customer_id, "customer")
        await access.field_update(self.runtime, str(customer_id), request.field)
        async with self.runtime.db.transaction() as conn:
            row = await stewardship.update_field(
                self.runtime,
                conn,
                customer_id=customer_id,
                field=request.field,
                value=request.value,
                actor=Actor(*access.actor(access.caller(), request.actor_id, request.actor_role), request.reason),
                owners=self.settings.golden_owners(),
            )
        return customer_pb2.UpdateCustomerFieldResponse(customer=customer_message(row))

    async def FileChangeRequest(
        self, request: customer_pb2.FileChangeRequestRequest, context: grpc.aio.ServicerContext
    ) -> customer_pb2.FileChangeRequestResponse:
        customer_id = parse_id(request.customer_id, "customer")
        await access.decision_for(self.runtime, str(customer_id), access.Action.UPDATE)
        async with self.runtime.db.transaction() as conn:
            request_id = await stewardship.file_change_request(
                conn,
                customer_id=customer_id,
                field=request.field,
                value=request.value,
                actor=Actor(access.actor_id(request.actor_id), reason=request.reason),
            )
        return customer_pb2.FileChangeRequestResponse(change_request_id=str(request_id))

    async def ReassignSteward(
        self, request: customer_pb2.ReassignStewardRequest, context: grpc.aio.ServicerContext
    ) -> customer_pb2.ReassignStewardResponse:
        async with self.runtime.db.transaction() as conn:
            moved = await stewardship.reassign_steward(
                conn,
                from_rep_id=request.from_rep_id,
                to_rep_id=request.to_rep_id,
                actor=Actor(access.actor_id(request.actor_id), reason="steward reassigned"),
            )
        return customer_pb2.ReassignStewardResponse(reassigned=moved)

    async def GetDataHealth(
        self, request: customer_pb2.GetDataHealthRequest, context: grpc.aio.ServicerContext
    ) -> customer_pb2.GetDataHealthResponse:
        if request.stale_after_days < 0:
            raise InvalidArgument([FieldViolation("stale_after_days", "must not be negative")])
        async with self.runtime.db.connect() as conn:
            health = await stewardship.data_health(
                conn, stale_after_days=request.stale_after_days or self.settings.stale_after_days
            )
        return customer_pb2.GetDataHealthResponse(**health.__dict__)

    async def GetMatchRules(
        self, request: customer_pb2.GetMatchRulesRequest, context: grpc.aio.ServicerContext
    ) -> customer_pb2.GetMatchRulesResponse:
        async with self.runtime.db.connect() as conn:
            rules = await load_rules(conn)
        return customer_pb2.GetMatchRulesResponse(rules_json=to_json(rules.to_dict()))

    async def SetMatchRules(
        self, request: customer_pb2.SetMatchRulesRequest, context: grpc.aio.ServicerContext
    ) -> customer_pb2.SetMatchRulesResponse:
        data = rules_from_json(request.rules_json)
        rules = stewardship.parse_rules(data)
        async with self.runtime.db.transaction() as conn:
            await repository.put_setting(conn, key=MATCH_RULES_KEY, value=rules.to_dict(), updated_by=access.actor_id(request.actor_id))
        forget_rules()
        return customer_pb2.SetMatchRulesResponse(rules_json=to_json(rules.to_dict()))

    async def ListChangeRequests(
        self, request: customer_pb2.ListChangeRequestsRequest, context: grpc.aio.ServicerContext
    ) -> customer_pb2.ListChangeRequestsResponse:
        status = request.status or "open"
        if status not in CHANGE_REQUEST_STATUSES:
            raise InvalidArgument([FieldViolation("status", f"must be one of {', '.join(CHANGE_REQUEST_STATUSES)}")])
        if request.limit < 0:
            raise InvalidArgument([FieldViolation("limit", "must not be negative")])
        customer_id = parse_id(request.customer_id, "customer") if request.customer_id else None
        await access.change_requests_of(self.runtime, customer_id)
        async with self.runtime.db.connect() as conn:
            rows = await repository.list_change_requests(
                conn,
                customer_id=customer_id,
                status=None if status == "all" else status,
                limit=min(request.limit or 100, 1000),
            )
        return customer_pb2.ListChangeRequestsResponse(change_requests=[change_request_message(r) for r in rows])

    async def ApproveChangeRequest(
        self, request: customer_pb2.ApproveChangeRequestRequest, context: grpc.aio.ServicerContext
    ) -> customer_pb2.ApproveChangeRequestResponse:
        request_id = parse_id(request.change_request_id, "change request")
        async with self.runtime.db.transaction() as conn:
            decided, customer = await stewardship.approve_change_request(
                self.runtime,
                conn,
                request_id=request_id,
                actor=Actor(*access.actor(access.caller(), request.actor_id, request.actor_role), request.reason),
                owners=self.settings.golden_owners(),
                default_owner=self.settings.golden_field_owner_role,
            )
        return customer_pb2.ApproveChangeRequestResponse(
            change_request=change_request_message(decided), customer=customer_message(customer)
        )

    async def RejectChangeRequest(
        self, request: customer_pb2.RejectChangeRequestRequest, context: grpc.aio.ServicerContext
    ) -> customer_pb2.RejectChangeRequestResponse:
        request_id = parse_id(request.change_request_id, "change request")
        async with self.runtime.db.transaction() as conn:
            decided = await stewardship.reject_change_request(
                conn,
                request_id=request_id,
                actor=Actor(*access.actor(access.caller(), request.actor_id, request.actor_role), request.reason),
                owners=self.settings.golden_owners(),
                default_owner=self.settings.golden_field_owner_role,
            )
        return customer_pb2.RejectChangeRequestResponse(change_request=change_request_message(decided))

    async def StartDedupJob(
        self, request: customer_pb2.StartDedupJobRequest, context: grpc.aio.ServicerContext
    ) -> customer_pb2.StartDedupJobResponse:
        async with self.runtime.db.transaction() as conn:
            job, created = await dedup_jobs.start_job(
                conn,
                scope=request.scope,
                data=request.file,
                file_format=request.file_format,
                send_to_review=request.send_to_review,
                actor_id=access.actor_id(request.actor_id),
                settings=self.settings,
                idempotency_key=request.idempotency_key,
            )
        if created and self.dedup_wake is not None:
            self.dedup_wake()
        return customer_pb2.StartDedupJobResponse(job=dedup_job_message(job), created=created)

    async def GetDedupJob(
        self, request: customer_pb2.GetDedupJobRequest, context: grpc.aio.ServicerContext
    ) -> customer_pb2.GetDedupJobResponse:
        job_id = parse_id(request.job_id, "dedup job")
        if request.cluster_limit < 0:
            raise InvalidArgument([FieldViolation("cluster_limit", "must not be negative")])
        async with self.runtime.db.connect() as conn:
            job = await dedup_repository.get_job(conn, job_id=job_id)
            if job is None:
                raise NotFound(f"dedup job {request.job_id!r} not found")
            clusters = await dedup_repository.list_clusters(
                conn, job_id=job_id, limit=min(request.cluster_limit or 100, 1000)
            )
        return customer_pb2.GetDedupJobResponse(
            job=dedup_job_message(job), clusters=[dedup_cluster_message(c) for c in clusters]
        )

    async def ListDedupJobs(
        self, request: customer_pb2.ListDedupJobsRequest, context: grpc.aio.ServicerContext
    ) -> customer_pb2.ListDedupJobsResponse:
        if request.status and request.status not in dedup_jobs.STATUSES:
            raise InvalidArgument([FieldViolation("status", f"must be one of {', '.join(dedup_jobs.STATUSES)}")])
        if request.limit < 0:
            raise InvalidArgument([FieldViolation("limit", "must not be negative")])
        async with self.runtime.db.connect() as conn:
            rows = await dedup_repository.list_jobs(
                conn, status=request.status or None, limit=min(request.limit or 100, 1000)
            )
        return customer_pb2.ListDedupJobsResponse(jobs=[dedup_job_message(r) for r in rows])
