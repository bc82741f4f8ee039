"""Never two invoices (issue 15), for every package that raises them, end to end: a preview submitted twice, an
answer lost after the package made the invoice, or the process killed then, each leaves exactly one."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from bot.invoices import raising, tracking
from storage.models import InvoiceStatus
from tests.conftest import CHANNEL, RunningBot
from tests.flows import all_text
from tests.invoicing_e2e import MADE, create, created, held, invoice_of, ready
from tests.providers.packages import PackageDriver, Resource
from tests.test_invoices import killed_once_sent, line, rows
from tests.test_mapping import checked

pytestmark = pytest.mark.package_has("invoicing")


@pytest.fixture
def bot(package_bot: RunningBot) -> Iterator[RunningBot]:
    yield from checked(package_bot)


# -- never twice -------------------------------------------------------------------------------------------------


def test_a_preview_submitted_twice_makes_one_invoice(bot: RunningBot, package: PackageDriver) -> None:
    organisation, name = ready(bot, package)
    invoice_of(bot, name, line(1, "sales", "Hot water", "1", "100"))

    first = create(bot, package)
    retried = bot.slack.send_payload("interactive", first.payload, retry=(1, "http_timeout"))  # Slack's retry
    # a second press before Slack applied the first's answer: a submission of its own (a trigger of its own)
    second = bot.slack.send_payload("interactive", first.payload | {"trigger_id": f"{first.payload['trigger_id']}2"})

    assert retried.acked and second.acked and "This invoice was already sent" in str(second.ack)
    row, _ = created(bot)
    assert [i.id for i in held(package, organisation)] == [row.external_id] and len(rows(bot)) == 1
    assert len([m for m in bot.slack.messages(CHANNEL) if row.number and row.number in all_text(m)]) == 1


def test_an_answer_lost_after_the_package_made_the_invoice_still_leaves_one(
    bot: RunningBot, package: PackageDriver
) -> None:
    organisation, name = ready(bot, package)
    invoice_of(bot, name, line(1, "sales", "Hot water", "1", "100"))
    package.lose_next_answer(Resource.INVOICES)

    create(bot, package)

    [row] = bot.slack.wait_for(lambda: [r for r in rows(bot) if r.external_id or r.error], 30, "nothing came of it")
    if row.external_id is None:  # the provider gave up for now: the tracking asks again, with the same key
        runtime = bot.server.runtime
        later = runtime.clock() + timedelta(minutes=5)
        runtime.clock = lambda: later
        tracking.track(runtime, connection_id=row.connection_id)
    row, _ = created(bot)
    assert [i.id for i in held(package, organisation)] == [row.external_id] and row.status in MADE


def test_a_process_killed_after_the_package_made_the_invoice_leaves_one(
    bot: RunningBot, package: PackageDriver
) -> None:
    """A real process sends the invoice and is killed (SIGKILL) after the package made it but before the answer
    reached it: the row stays pending with its key, and the tracking's resend finds the invoice already made."""
    organisation, name = ready(bot, package)
    invoice_of(bot, name, line(1, "sales", "Hot water", "1", "100"))
    [row] = rows(bot)
    runtime = bot.server.runtime
    with runtime.db.session() as s:  # what "Create invoice" does before it sends
        assert raising.claim(s, invoice_id=row.id, workspace_id=row.workspace_id, now=runtime.clock())
    killed_once_sent(
        bot, row, package.hold_answers(Resource.INVOICES), lambda: package.invoices_at_package(organisation)
    )
    assert rows(bot)[0].status == InvoiceStatus.PENDING and rows(bot)[0].external_id is None

    later = runtime.clock() + timedelta(minutes=5)
    runtime.clock = lambda: later
    tracking.track(runtime, connection_id=row.connection_id)

    row, _ = created(bot)
    assert [i.id for i in held(package, organisation)] == [row.external_id] and row.status in MADE
