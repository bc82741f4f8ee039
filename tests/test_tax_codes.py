"""Tax codes in the mapping (issue 15): the package's tax rates fetched and stored with the chart, a default tax
code per category beside its account in the mapping modal, and saving them validated like accounts (exists,
active, suits the account where the package says). End to end through the Slack fake and the Xero fake."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from bot.categories import load_categories
from bot.mapping import account_mapping
from bot.mapping.tax_codes import TaxEntry, tax_problem, taxable
from storage.models import AccountMapping, ChartTaxRate
from tests.conftest import ADMIN, STAFF, TEAM, RunningBot
from tests.fakes.xero import XeroFake
from tests.flows import all_text, command, connected, log_in, login_url, shown
from tests.test_mapping import checked, choices, open_modal, xero_ids

CATEGORIES = load_categories()
PICKS = {"sales": "200", "services": "260", "labour": "320", "materials": "310", "expenses": "429"}
PICKS |= {"payments_received": "090"}


@pytest.fixture
def bot(connect_bot: RunningBot) -> Iterator[RunningBot]:
    yield from checked(connect_bot)


def tax_block(view: dict[str, Any], key: str) -> dict[str, Any] | None:
    return next((b for b in view["blocks"] if b.get("block_id") == f"tax_{key}"), None)


def tax_values(taxes: dict[str, str]) -> dict[str, dict[str, Any]]:
    """As Slack sends them, even a code that was never offered (a forged or stale submission)."""
    option = {"text": {"type": "plain_text", "text": "a tax code"}}
    return {
        f"tax_{key}": {f"taxcode_{key}": {"type": "static_select", "selected_option": option | {"value": code}}}
        for key, code in taxes.items()
    }


def submit(bot: RunningBot, view: dict[str, Any], xero: XeroFake, tenant: str, taxes: dict[str, str]) -> Any:
    values: dict[str, dict[str, Any]] = dict(choices(xero_ids(xero, tenant), PICKS))
    delivery = bot.slack.send_view_submission(view["id"], values | tax_values(taxes))
    assert delivery.acked and delivery.problems == (), delivery.problems
    return delivery


def test_tax_rates_come_with_the_chart_and_each_category_gets_a_tax_code_beside_its_account(
    bot: RunningBot, xero: XeroFake
) -> None:
    tenant = xero.add_organisation("Acme Plumbing Ltd")
    log_in(bot, login_url(bot))
    view = open_modal(bot)
    assert len(xero.calls_to("/TaxRates")) == 1
    with bot.db.session() as s:
        rows = {r.code: r for r in s.scalars(select(ChartTaxRate))}
    assert set(rows) == {"OUTPUT2", "INPUT2", "NONE", "ZERORATED", "EXEMPTOUTPUT", "TAX001"}
    assert rows["OUTPUT2"].rate == Decimal("15") and rows["TAX001"].rate == Decimal("12.5")
    assert not rows["TAX001"].active and rows["OUTPUT2"].suits.split(",") == ["asset", "bank", "equity", "income"] + [
        "liability",
        "other_income",
    ]

    ids = [b.get("block_id") for b in view["blocks"]]
    for category in CATEGORIES:  # each tax code right after its category's account
        if taxable(category):
            assert ids[ids.index(f"category_{category.key}") + 1] == f"tax_{category.key}"
        else:
            assert tax_block(view, category.key) is None  # payments received carries no tax
    sales = tax_block(view, "sales")
    assert sales is not None and sales["optional"] and sales["label"]["text"] == "Sales: tax code"
    offered = {o["value"]: o["text"]["text"] for o in sales["element"]["options"]}
    # income accounts: income and any-account codes; not GST on Expenses, not the archived 12.5%
    assert offered == {
        "OUTPUT2": "GST on Income (15%)",
        "NONE": "No GST (0%)",
        "ZERORATED": "Zero Rated (0%)",
        "EXEMPTOUTPUT": "Exempt Income (0%)",
    }
    materials = tax_block(view, "materials")
    assert materials is not None
    assert {o["value"] for o in materials["element"]["options"]} == {"INPUT2", "NONE", "ZERORATED"}
    _ = tenant


def test_the_tax_rates_are_asked_for_while_the_chart_is_on_its_way(bot: RunningBot, xero: XeroFake) -> None:
    """The chart of accounts and the tax rates are two calls to Xero, sent at once: opening the mapping modal (and
    an import's end) waits for the longer of the two round trips, not for both one after the other."""
    row, _ = connected(bot, xero)
    charts, rates = len(xero.calls_to("/Accounts")), len(xero.calls_to("/TaxRates"))
    held = xero.hold("/Accounts")
    refreshed: list[int] = []
    refreshing = threading.Thread(
        target=lambda: refreshed.append(account_mapping.refresh_chart(bot.server.runtime, connection_id=row.id)),
        daemon=True,
    )
    refreshing.start()
    try:
        xero.wait_for_calls("/Accounts", charts, "the chart, its answer held")
        xero.wait_for_calls("/TaxRates", rates, "the tax rates, asked for while the chart's answer is held")
    finally:
        held.set()
    refreshing.join(timeout=30)
    assert refreshed and refreshed[0] > 0  # both answers stored once the chart's came
    with bot.db.session() as s:
        assert s.scalars(select(ChartTaxRate).where(ChartTaxRate.connection_id == row.id)).first() is not None


def test_saved_tax_codes_are_stored_confirmed_and_offered_next_time(bot: RunningBot, xero: XeroFake) -> None:
    tenant = xero.add_organisation("Acme Plumbing Ltd")
    log_in(bot, login_url(bot))
    view = open_modal(bot)
    submit(bot, view, xero, tenant, {"sales": "OUTPUT2", "services": "ZERORATED", "materials": "INPUT2"})
    with bot.db.session() as s:
        saved = {r.category: r.tax_code for r in s.scalars(select(AccountMapping))}
    assert saved == {
        "sales": "OUTPUT2",
        "services": "ZERORATED",
        "labour": None,
        "materials": "INPUT2",
        "expenses": None,
        "payments_received": None,
    }
    confirmation = shown(bot, "Account codes saved")
    assert "*Sales*: 200 – Sales, tax GST on Income (15%)" in all_text(confirmation)
    assert "*Labour*: 320 – Subcontractors" in all_text(confirmation)
    assert "Subcontractors, tax" not in all_text(confirmation)

    again = open_modal(bot)
    sales = tax_block(again, "sales")
    assert sales is not None and sales["element"]["initial_option"]["value"] == "OUTPUT2"
    labour = tax_block(again, "labour")
    assert labour is not None and "initial_option" not in labour["element"]


@pytest.mark.parametrize(
    ("key", "code", "words"),
    [
        ("sales", "INPUT2", "GST on Expenses (15%) cannot be used with 200 – Sales"),
        ("materials", "OUTPUT2", "GST on Income (15%) cannot be used with 310 – Cost of Goods Sold"),
        ("sales", "TAX001", "Old GST 12.5% (12.5%) is archived. Choose another."),
        ("services", "GST", "That tax code is no longer in the organisation's tax rates"),
        ("labour", "<!channel>" * 20, "That tax code is no longer in the organisation's tax rates"),
    ],
)
def test_a_tax_code_that_does_not_suit_is_refused_next_to_its_field_and_nothing_is_saved(
    bot: RunningBot, xero: XeroFake, key: str, code: str, words: str
) -> None:
    tenant = xero.add_organisation("Acme Plumbing Ltd")
    log_in(bot, login_url(bot))
    view = open_modal(bot)
    delivery = submit(bot, view, xero, tenant, {key: code})
    assert delivery.ack["response_action"] == "errors"
    [(block, message)] = delivery.ack["errors"].items()
    assert block == f"tax_{key}" and words in message
    with bot.db.session() as s:
        assert s.scalars(select(AccountMapping)).all() == []
    assert bot.slack.last_view(ADMIN)["id"] == view["id"]  # type: ignore[index]


def test_a_tax_code_archived_in_xero_is_not_offered_after_a_refresh(bot: RunningBot, xero: XeroFake) -> None:
    tenant = xero.add_organisation("Acme Plumbing Ltd")
    log_in(bot, login_url(bot))
    view = open_modal(bot)
    submit(bot, view, xero, tenant, {"sales": "ZERORATED"})
    xero.ledger(tenant).tax_rates["ZERORATED"]["Status"] = "ARCHIVED"
    bot.server.runtime.clock = (lambda now: lambda: now)(bot.server.runtime.clock().replace(year=2030))
    again = open_modal(bot)
    sales = tax_block(again, "sales")
    assert sales is not None and "initial_option" not in sales["element"]
    assert "ZERORATED" not in {o["value"] for o in sales["element"]["options"]}


def test_tax_problems_in_words() -> None:
    gst = TaxEntry("OUTPUT2", "GST on Income", Decimal("15.0000"), suits=frozenset({"income"}))
    assert gst.label == "GST on Income (15%)"
    assert TaxEntry("X", "Odd", Decimal("12.5000")).label == "Odd (12.5%)"
    assert tax_problem(gst, account_kind="income", account_label="200 – Sales") is None
    assert tax_problem(gst, account_kind="expense", account_label="429 – General") == (
        "GST on Income (15%) cannot be used with 429 – General. Choose a tax code for that kind of account."
    )
    anywhere = TaxEntry("NONE", "No GST", Decimal(0))
    assert tax_problem(anywhere, account_kind="equity", account_label="x") is None  # the package does not say


def test_refreshing_the_chart_keeps_the_tax_codes_chosen_so_far(bot: RunningBot, xero: XeroFake) -> None:
    xero.add_organisation("Acme Plumbing Ltd")
    log_in(bot, login_url(bot))
    view = open_modal(bot)
    xero_calls = len(xero.calls_to("/TaxRates"))
    bot.slack.send_action(
        "mapping_refresh", user_id=ADMIN, view_id=view["id"], values={"tax_sales": {"taxcode_sales": "ZERORATED"}}
    )
    bot.slack.wait_for(lambda: len(xero.calls_to("/TaxRates")) > xero_calls, 5, "the tax rates were not fetched again")

    def refreshed() -> dict[str, Any] | None:
        shown = bot.slack.view(view["id"])
        sales = tax_block(shown, "sales") if shown["callback_id"] == "mapping_save" else None
        return shown if sales is not None and "initial_option" in sales["element"] else None

    again = bot.slack.wait_for(refreshed, 5, "the refreshed modal lost the tax code")
    sales = tax_block(again, "sales")
    assert sales is not None and sales["element"]["initial_option"]["value"] == "ZERORATED"


def test_a_saved_tax_code_archived_or_removed_in_xero_is_flagged_in_status_and_app_home(
    bot: RunningBot, xero: XeroFake
) -> None:
    tenant = xero.add_organisation("Acme Plumbing Ltd")
    log_in(bot, login_url(bot))
    submit(bot, open_modal(bot), xero, tenant, {"sales": "OUTPUT2", "services": "ZERORATED", "materials": "INPUT2"})
    assert "needs attention" not in all_text(command(bot, "/accounts status", "Account codes mapped"))

    xero.ledger(tenant).tax_rates["ZERORATED"]["Status"] = "ARCHIVED"
    del xero.ledger(tenant).tax_rates["INPUT2"]
    bot.server.runtime.clock = (lambda now: lambda: now)(bot.server.runtime.clock().replace(year=2030))
    bot.slack.close_view(open_modal(bot)["id"])  # opening the mapping refreshes the chart and its tax codes

    archived = "*Services*: its default tax code Zero Rated (0%) is archived in Xero"
    gone = "*Materials*: its default tax code INPUT2 is no longer in Xero"
    status = all_text(command(bot, "/accounts status", "needs attention", STAFF))
    assert archived in status and gone in status and "*Sales*" not in status
    assert "An admin can fix it with `/accounts map`" in status
    bot.slack.send_event({"type": "app_home_opened", "user": ADMIN, "tab": "home"}, team_id=TEAM)
    home = str(bot.slack.wait_for(lambda: bot.slack.home_view(ADMIN)))
    assert archived.replace("*", "") in home.replace("*", "") and "INPUT2 is no longer in Xero" in home
