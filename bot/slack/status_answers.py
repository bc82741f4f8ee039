"""`/accounts status`'s answer, rendered once per workspace and given again while nothing it shows has changed.

Each request reads the workspace's version (`storage.status_version`: the database logs every change status shows
in that change's transaction, whichever process made it) and gives the kept answer only while the version is the
one read before that answer was built and the clock has not reached the moment it would read
otherwise (a log-in turning due for a refresh). The answer is the same for whoever asks in the workspace; it is
kept as blocks and as the acknowledgement's JSON, written once.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot import status
from bot.runtime import Runtime
from bot.views.status import status_blocks
from storage.status_version import StatusVersions

TEXT = "Accounting connection status"  # the answer's fallback text (notifications, screen readers)


@dataclass(frozen=True)
class StatusAnswer:
    blocks: tuple[dict[str, Any], ...]
    ack_body: str  # the ephemeral answer as an acknowledgement's JSON body, as Bolt's `ack()` writes it
    version: Hashable | None  # the counter read before it was built
    fresh_until: datetime | None  # when the clock alone changes it

    def current(self, version: Hashable | None, now: datetime) -> bool:
        fresh = self.fresh_until is None or now < self.fresh_until
        return version is not None and version == self.version and fresh


class StatusAnswers:
    """One Bolt app's status answers by workspace, the `KEPT` latest built; thread-safe (two requests missing at once
    both build it)."""

    KEPT = 1000  # workspaces: a few kilobytes each

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.versions = StatusVersions(runtime.db)
        runtime.closers.append(self.versions.close)  # before the database is closed (`Runtime.close`)
        self._answers: dict[int, StatusAnswer] = {}
        self._storing = threading.Lock()

    def answer(self, *, team_id: str, workspace_id: int) -> StatusAnswer:
        runtime = self.runtime
        version = self.versions.read(workspace_id=workspace_id)  # first: what follows is at least as new
        kept = self._answers.get(workspace_id)
        if kept is not None and kept.current(version, runtime.clock()):
            return kept
        with runtime.db.session() as s:
            report = status.report_for(runtime, s, team_id=team_id)
        blocks = tuple(status_blocks(report))
        answer = StatusAnswer(
            blocks=blocks,
            ack_body=json.dumps({"text": TEXT, "response_type": "ephemeral", "blocks": list(blocks)}),
            version=version,
            fresh_until=report.connection.health_changes_at if report.connection is not None else None,
        )
        if version is not None:
            with self._storing:
                self._answers.pop(workspace_id, None)
                while len(self._answers) >= self.KEPT:
                    del self._answers[next(iter(self._answers))]  # the one built longest ago
                self._answers[workspace_id] = answer
        return answer
