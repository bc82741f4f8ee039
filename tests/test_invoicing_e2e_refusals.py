"""The package refusing an invoice (issue 15), for every package that raises them, end to end: the modal becomes the
form again, filled in as it was, the package's words under the field they concern: a line's field, or the "Unit
prices" choice for tax-inclusive prices the organisation does not take."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.views.text import escape
from storage.models import InvoiceStatus
from tests.conftest import ADMIN, CHANNEL, RunningBot
from tests.flows import all_text
from tests.invoicing_e2e import create, invoice_of, ready, refused_form
from tests.providers.packages import PackageDriver
from tests.test_invoices import line, problems_under_fields, rows
from tests.test_mapping import checked

pytestmark = pytest.mark.package_has("invoicing")


@pytest.fixture
def bot(package_bot: RunningBot) -> Iterator[RunningBot]:
    yield from checked(package_bot)


# -- the package refusing ----------------------------------------------------------------------------------------


def test_the_packages_refusal_is_shown_next_to_the_line_and_field_it_concerns(
    bot: RunningBot, package: PackageDriver
) -> None:
    organisation, name = ready(bot, package)
    invoice_of(bot, name, line(1, "sales", "Hot water", "1", "100"))
    sales = package.account_ids(organisation)[package.chart_picks["sales"].key]
    package.archive_account(organisation, sales)  # archived at the package since the chart was stored

    preview = bot.slack.last_view(ADMIN)
    assert preview is not None
    create(bot, package)
    view_id = preview["id"]  # "Create invoice" updates the preview's modal in place

    # The modal becomes the form again, filled in as it was, the package's words under the field they concern.
    form_view = refused_form(bot, view_id)
    [row] = rows(bot)
    assert row.status == InvoiceStatus.FAILED and package.invoices_at_package(organisation) == []
    words = [message for at, field, message in row.refusals or [] if (at, field) == (0, "account")]
    assert words, row.refusals
    blocks = form_view["blocks"]
    under = problems_under_fields(form_view)
    assert set(under) == {"line_1_category"}, under
    assert under["line_1_category"].startswith(f"⚠ {package.title}: ")
    assert all(w in under["line_1_category"] for w in words)
    form = {b.get("block_id"): b for b in blocks}
    assert form["line_1_category"]["element"]["initial_option"]["value"] == "sales"
    assert form["line_1_description"]["element"]["initial_value"] == "Hot water"
    assert form["line_1_price"]["element"]["initial_value"] == "100"
    assert form["invoice_customer"]["element"]["initial_option"]["text"]["text"] == name
    assert form["reference"]["element"]["initial_value"] == "Job 42"
    assert f"{package.title} did not accept this invoice" in str(blocks[0])
    # told in the modal the person is looking at, not by a message as well
    assert not [m for m in bot.slack.messages(CHANNEL) if "did not accept" in all_text(m)]


@pytest.mark.package_has("tax_inclusive_words")
def test_tax_inclusive_prices_the_organisation_does_not_take_are_refused_in_the_modal(
    bot: RunningBot, package: PackageDriver
) -> None:
    organisation, name = ready(bot, package)
    invoice_of(bot, name, line(1, "sales", "Service visit", "1", "100"), inclusive=True)
    preview = bot.slack.last_view(ADMIN)
    assert preview is not None
    create(bot, package)

    form_view = refused_form(bot, preview["id"])
    blocks = form_view["blocks"]
    # the whole invoice's prices were refused: the words go under "Unit prices", where they are changed
    assert problems_under_fields(form_view) == {"amounts": f"⚠ {package.title}: {escape(package.tax_inclusive_words)}"}
    assert f"{package.title} did not accept this invoice; see the fields marked ⚠." in str(blocks[0])
    fields = {b.get("block_id"): b for b in blocks}
    assert fields["amounts"]["label"]["text"] == "Unit prices"
    assert fields["amounts"]["element"]["initial_option"]["value"] == "inclusive"
    assert [r.status for r in rows(bot)] == [InvoiceStatus.FAILED] and package.invoices_at_package(organisation) == []
