"""Who may raise invoices (admins, or everyone when an admin allows staff) and whether they are raised approved."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot import workspaces
from storage.models import Workspace


def set_staff_may_invoice(session: Session, *, workspace_id: int, allowed: bool, user_id: str) -> None:
    workspace = session.get(Workspace, workspace_id)
    assert workspace is not None
    workspace.staff_may_invoice = allowed
    workspaces.record(
        session, workspace_id=workspace_id, actor=user_id, action="invoice.staff", detail={"allowed": allowed}
    )


def set_approve_invoices(session: Session, *, workspace_id: int, approve: bool, user_id: str) -> None:
    workspace = session.get(Workspace, workspace_id)
    assert workspace is not None
    workspace.approve_invoices = approve
    workspaces.record(
        session, workspace_id=workspace_id, actor=user_id, action="invoice.approve", detail={"approve": approve}
    )
