"""The access matrix: its decisions, and the copy of it in docs/security.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from crm_common.access import (
    IN_PROCESS,
    MATRIX,
    ROLES,
    Action,
    Owner,
    Resource,
    Scope,
    allowed_roles,
    caller,
    decide,
    markdown_table,
    require,
)
from crm_common.errors import PermissionDenied
from crm_common.identity import Principal, Role, acting_as, service_principal

DOC = Path(__file__).resolve().parents[3] / "docs" / "security.md"
REP_A = Principal(subject="rep-a", role=Role.SALES_REP, rep_id="rep-a")
REP_B = Principal(subject="rep-b", role=Role.SALES_REP, rep_id="rep-b")
MANAGER = Principal(subject="mgr", role=Role.MANAGER, team_ids=("team-1",))
VIEWER = Principal(subject="viewer", role=Role.VIEWER)
A_LEAD = Owner.of(reps=["rep-a"], teams=["team-1"])


def test_the_doc_carries_the_matrix_as_the_code_holds_it() -> None:
    assert markdown_table() in DOC.read_text(encoding="utf-8")


def test_every_cell_of_the_matrix_names_every_role() -> None:
    for grants in MATRIX.values():
        assert set(grants) == set(ROLES)


def test_a_rep_reads_its_own_lead_and_not_another_reps() -> None:
    assert decide(REP_A, Resource.LEAD, Action.READ, owner=A_LEAD).allowed
    refused = decide(REP_B, Resource.LEAD, Action.READ, owner=A_LEAD)
    assert not refused.allowed and not refused.personal
    with pytest.raises(PermissionDenied):
        require(REP_B, Resource.LEAD, Action.READ, owner=A_LEAD)


def test_a_manager_reaches_only_its_teams() -> None:
    assert decide(MANAGER, Resource.LEAD, Action.READ, owner=A_LEAD).allowed
    assert not decide(MANAGER, Resource.LEAD, Action.READ, owner=Owner.of(teams=["team-2"])).allowed
    assert not decide(MANAGER, Resource.LEAD, Action.ACT, owner=Owner.of(teams=["team-2"])).allowed
    teamless = Principal(subject="m2", role=Role.MANAGER)
    assert not decide(teamless, Resource.LEAD, Action.READ, owner=A_LEAD).allowed


def test_a_viewer_sees_figures_not_personal_data() -> None:
    decision = decide(VIEWER, Resource.LEAD, Action.READ, owner=A_LEAD)
    assert decision.allowed and not decision.personal and decision.scope is Scope.FIGURES
    assert not decide(VIEWER, Resource.CONTACT, Action.MATCH).allowed
    assert not decide(VIEWER, Resource.LEAD, Action.ACT, owner=A_LEAD).allowed


def test_a_rep_matching_customers_gets_no_personal_data() -> None:
    decision = decide(REP_A, Resource.CUSTOMER, Action.MATCH)
    assert decision.allowed and not decision.personal


def test_golden_fields_belong_to_the_customer_success_director() -> None:
    assert allowed_roles(Resource.GOLDEN_FIELD, Action.UPDATE) == {Role.CUSTOMER_SUCCESS_DIRECTOR}


def test_a_service_has_the_rights_of_the_user_it_acts_for() -> None:
    for_rep = service_principal("lead", on_behalf_of=REP_B)
    assert not decide(for_rep, Resource.CUSTOMER, Action.READ, owner=Owner.of(reps=["rep-a"])).allowed
    assert decide(for_rep, Resource.CUSTOMER, Action.READ, owner=Owner.of(reps=["rep-b"])).allowed
    alone = service_principal("lead")
    assert decide(alone, Resource.CUSTOMER, Action.READ, owner=Owner.of(reps=["rep-a"])).personal


def test_the_caller_is_the_principal_of_the_call_and_in_process_without_one() -> None:
    assert caller() is IN_PROCESS
    with acting_as(VIEWER):
        assert caller() is VIEWER
