"""Who may do what, said once: admins (Slack's admins and owners, and those added with `/accounts admins`), and
everyone for what the workspace lets staff do (importing, when an admin allowed it)."""

from __future__ import annotations

from collections.abc import Callable

from bot import workspaces
from bot.slack.requests import Asker, Reply
from bot.views import connect as views
from bot.workspaces import permissions
from storage.models import Workspace


def authorised(
    asker: Asker,
    reply: Reply,
    *,
    action: str,
    what: str,
    staff_allowed: bool = False,
    staff_may: Callable[[Workspace], bool] | None = None,
) -> bool:
    """Whether the person may do `action`; if not, they are told why not ("Only admins can `what`") and the refusal
    is audited. `staff_allowed`: everyone may, when the workspace lets staff import; `staff_may`: everyone may
    when it says so of the workspace (staff invoicing, ...)."""
    db = asker.runtime.db
    with db.session() as s:
        workspace = s.get(Workspace, asker.workspace_id)
        assert workspace is not None, "the middleware made it"
        if staff_allowed and workspace.staff_may_import:
            return True
        if staff_may is not None and staff_may(workspace):
            return True
        added = asker.user_id in permissions.added_admins(s, workspace_id=asker.workspace_id)
    if added or permissions.is_slack_admin(asker.client, asker.user_id):
        return True
    with db.session(write_lock=True) as s:
        workspaces.record(
            s, workspace_id=asker.workspace_id, actor=asker.user_id, action="refused", detail={"action": action}
        )
    reply(blocks=views.refused_blocks(what), text=f"Only admins can {what}.")
    return False
