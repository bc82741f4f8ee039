"""`/accounts status`'s answer, rendered once per workspace and given again while nothing it shows has changed.

Each request reads the workspace's change counter (`storage.status_version`: the database bumps it in the
transaction of every change status shows, whichever process made it) and gives the kept answer only while the
counter is the one read before that answer was built and the clock has not reached the moment it would read
otherwise (a log-in turning due for a refresh). The answer is the same for whoever asks in the workspace.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot import status
from bot.runtime import Runtime
from bot.views.status import status_blocks
from storage.status_version import status_version

Blocks = Sequence[dict[str, Any]]


@dataclass(frozen=True)
class _Answer:
    version: Hashable  # the counter read before the answer was built
    fresh_until: datetime | None  # when the clock alone changes it
    blocks: Blocks

    def current(self, version: Hashable, now: datetime) -> bool:
        return version == self.version and (self.fresh_until is None or now < self.fresh_until)


class StatusAnswers:
    """One Bolt app's status answers by workspace; thread-safe (two requests missing at once both build it)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._answers: dict[int, _Answer] = {}

    def blocks(self, *, team_id: str, workspace_id: int) -> Blocks:
        runtime = self.runtime
        version = status_version(runtime.db, workspace_id=workspace_id)  # first: what follows is at least as new
        answer = self._answers.get(workspace_id)
        if answer is not None and answer.current(version, runtime.clock()):
            return answer.blocks
        with runtime.db.session() as s:
            report = status.report_for(runtime, s, team_id=team_id)
        blocks = tuple(status_blocks(report))
        if version is not None:
            fresh_until = report.connection.health_changes_at if report.connection is not None else None
            self._answers[workspace_id] = _Answer(version, fresh_until, blocks)
        return blocks
