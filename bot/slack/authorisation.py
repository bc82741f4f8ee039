"""Who may do what, said once: admins (Slack's admins and owners, and those added with `/accounts admins`), and
everyone for what the workspace lets staff do (importing, exporting customers, when an admin allowed it)."""

from __future__ import annotations

from enum import StrEnum

from bot import workspaces
from bot.slack.requests import Asker, Reply
from bot.views import connect as views
from bot.workspaces import permissions
from storage.models import Workspace


class StaffRight(StrEnum):
    """What an admin may open to everyone in the workspace."""

    IMPORT = "import"  # `/accounts import staff on`
    EXPORT = "export"  # `/accounts export staff on`
    INVOICE = "invoice"  # `/accounts invoice staff on`


def staff_may(workspace: Workspace, right: StaffRight) -> bool:
    """Whether the workspace opened `right` to everyone."""
    return {
        StaffRight.IMPORT: workspace.staff_may_import,
        StaffRight.EXPORT: workspace.staff_may_export,
        StaffRight.INVOICE: workspace.staff_may_invoice,
    }[right]


def authorised(
    asker: Asker, reply: Reply, *, action: str, what: str, staff: StaffRight | None = None, quiet: bool = False
) -> bool:
    """Whether the person may do `action`; if not, they are told why not ("Only admins can `what`") and the refusal
    is audited. `staff`: everyone may, when the workspace opened that to staff. `quiet`: only ask (no answer, no
    audit), to decide what to show."""
    db = asker.runtime.db
    with db.session() as s:
        workspace = s.get(Workspace, asker.workspace_id)
        assert workspace is not None, "the middleware made it"
        if staff is not None and staff_may(workspace, staff):
            return True
        added = asker.user_id in permissions.added_admins(s, workspace_id=asker.workspace_id)
    if added or permissions.is_slack_admin(asker.client, asker.user_id):
        return True
    if quiet:
        return False
    with db.session(write_lock=True) as s:
        workspaces.record(
            s, workspace_id=asker.workspace_id, actor=asker.user_id, action="refused", detail={"action": action}
        )
    reply(blocks=views.refused_blocks(what), text=f"Only admins can {what}.")
    return False
