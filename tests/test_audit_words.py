"""The audit log reads as sentences with names and links, whatever its rows hold."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bot.views.audit import SENTENCES, AuditNames, audit_blocks, audit_sentence, connection_ids
from storage.models import AuditEvent

NAMES = AuditNames({"xero": "Xero"}, {1: "Acme *Old* Ltd", 2: "Acme Group"})


def event(code: str, actor: str | None = "U0ANN0001", /, **detail: Any) -> AuditEvent:
    return AuditEvent(actor_user_id=actor, action=code, detail=detail, created_at=datetime(2026, 12, 2, tzinfo=UTC))


@pytest.mark.parametrize(
    ("row", "sentence"),
    [
        (event("channel.set", channel="C0ACCOUNTS"), "<@U0ANN0001> set the channel to <#C0ACCOUNTS>"),
        (
            event("import.contacts", contacts="customers_only", was="all_but_suppliers"),
            "<@U0ANN0001> changed which contacts are imported as customers to only contacts the package marks as "
            "customers (it was every contact except those that are only suppliers)",
        ),
        (event("sync.changed", enabled=True, every=120), "<@U0ANN0001> set the scheduled sync to run every 2 hours"),
        (event("sync.changed", enabled=True, every=None), "<@U0ANN0001> turned the sync on"),
        (event("sync.changed", enabled=False, every=None), "<@U0ANN0001> turned the scheduled sync off"),
        (
            event("connection.connected", provider="xero", organisation="Acme Group", replaced=[1]),
            "<@U0ANN0001> connected Xero (Acme Group), replacing Acme *Old* Ltd",
        ),
        (
            event("slack.uninstalled", actor=None),
            "accounts-bot was removed from Slack (uninstalled, or its token revoked)",
        ),
        (event("admins.added", user="U0BOB0001"), "<@U0ANN0001> let <@U0BOB0001> manage accounts-bot"),
        (
            event("refused", action="sync"),
            "<@U0ANN0001> tried to change the scheduled sync and was told only admins can",
        ),
        (event("mapping.saved", connection=2), "<@U0ANN0001> saved the account mapping for Acme Group"),
        (
            event("customers.exported", rows=12, search="zeb", earlier=False),
            "<@U0ANN0001> exported 12 customers matching “zeb” as CSV",
        ),
        (event("import.staff", allowed=True), "<@U0ANN0001> let everyone import customers"),
        (
            event("customers.exported", rows=3, **{"import": 9}),
            "<@U0ANN0001> was sent the 3 customers new in an import as CSV, by direct message",
        ),
    ],
)
def test_each_entry_is_a_sentence(row: AuditEvent, sentence: str) -> None:
    assert audit_sentence(row, NAMES) == sentence


def test_the_log_names_connections_and_never_shows_codes() -> None:
    rows = [
        event("connection.connected", provider="xero", organisation="B", replaced=[1]),
        event("mapping.saved", connection=2),
    ]
    assert connection_ids(rows) == {1, 2}
    shown = str(audit_blocks(rows, NAMES))
    for code in ("replaced:", "connection.connected", "mapping.saved", "[1]", "provider:"):
        assert code not in shown


VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=40),
    st.sampled_from(["<!channel>", "<@U1> <!here>", "&lt;", "*bold*", "C0ACCOUNTS"]),
    st.lists(st.one_of(st.integers(), st.text(max_size=10)), max_size=3),
)


@given(
    action=st.sampled_from([*SENTENCES, "something.new"]),
    actor=st.one_of(st.none(), st.text(max_size=20), st.just("<!channel>")),
    detail=st.dictionaries(
        st.sampled_from(
            [
                "provider",
                "organisation",
                "replaced",
                "remote_error",
                "user",
                "action",
                "connection",
                "channel",
                "allowed",
                "contacts",
                "was",
                "enabled",
                "every",
                "rows",
                "search",
                "earlier",
            ]
        ),
        VALUES,
        max_size=6,
    ),
)
@example(action="admins.added", actor=None, detail={"user": True})  # an odd value where a user id was
def test_any_row_reads_safely(action: str, actor: str | None, detail: dict[str, Any]) -> None:
    """Whatever a row holds (old rows, odd values), the sentence is made and pings nobody."""
    text = str(audit_blocks([event(action, actor, **detail)], NAMES))
    for ping in ("<!channel", "<!here", "<!everyone", "<@U1>"):
        assert ping not in text
