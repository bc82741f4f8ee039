"""Mapping account codes, end to end over real HTTP: `/accounts map` and its buttons, the modal (static menus or
a typeahead), saving with validation, the initial-import offer, and stale mappings flagged in status and App Home.
The service's own rules (storing the chart, searching it, saving) are also checked on the databases directly.
Tests taking `package` run once per package; those taking `xero` drive Xero's generated charts by its account
types (menus grouped by type, the typeahead over 1,500 accounts, refusing an account of the wrong type)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, select

from bot.categories import load_categories
from bot.mapping import account_mapping, tax_codes
from providers.base import Account
from providers.invoicing import TaxRate
from storage.bulk import BulkWriter
from storage.db import Database
from storage.models import AccountMapping, AuditEvent, ChartAccount, Connection, Workspace
from tests.conftest import ADMIN, CHANNEL, STAFF, TEAM, RunningBot
from tests.fakes.blockkit import check_message, check_view
from tests.fakes.slack.render import block_lines
from tests.fakes.xero import XeroFake
from tests.flows import all_text, click, command, connected, log_in, login_url, seen, shown
from tests.providers.packages import ChartPick, PackageDriver, Resource, XeroDriver

CATEGORIES = load_categories()
BY_KEY = {c.key: c for c in CATEGORIES}
# What an admin of a plumbing business picks from Xero's default chart, by account code.
PICKS = {key: pick.key for key, pick in XeroDriver.chart_picks.items()}


def checked(bot: RunningBot) -> Iterator[RunningBot]:
    """The bot; afterwards, every view and message it sent is checked against Slack's limits."""
    yield bot
    slack = bot.slack
    for call in slack.calls():
        if call.method.startswith("views."):
            # not_found: the person closed the modal; hash_conflict: they changed it since, and their change wins
            assert call.ok or call.response.get("error") in ("not_found", "hash_conflict"), (call.method, call.response)
            assert check_view(call.args["view"]) == [], call.args["view"]
        if call.method.startswith("chat.") and "blocks" in call.args:
            assert call.ok, (call.method, call.response)
            assert check_message(call.args["blocks"]) == []
    assert all(r.status == 200 for r in slack.responses), [r.payload for r in slack.responses if r.status != 200]


@pytest.fixture
def bot(package_bot: RunningBot) -> Iterator[RunningBot]:
    """The bot set up for the package, not connected yet; checked afterwards (`checked`)."""
    yield from checked(package_bot)


@pytest.fixture
def xero_bot(connect_bot: RunningBot) -> Iterator[RunningBot]:
    """The bot set up for Xero, for the Xero-only tests; checked afterwards (`checked`)."""
    yield from checked(connect_bot)


# Driving the modal


def xero_ids(xero: XeroFake, tenant: str) -> dict[str, str]:
    """Account code (or name, for accounts without one) → Xero's AccountID."""
    return {a.get("Code") or a["Name"]: a["AccountID"] for a in xero.accounts(tenant)}


def views_opened(bot: RunningBot) -> list[Any]:
    return bot.slack.calls("views.open")


def open_modal(bot: RunningBot, action: Any = None, user: str = ADMIN, timeout: float = 30.0) -> dict[str, Any]:
    """Type `/accounts map` (or run `action`) and return the mapping modal once it is filled in."""
    before = len(views_opened(bot))
    if action is None:
        bot.slack.send_command("/accounts map", user_id=user, channel_id=CHANNEL)
    else:
        action()
    [call] = bot.slack.wait_for(lambda: views_opened(bot)[before:], timeout, "no modal was opened")
    assert call.ok, call.response
    return filled(bot, call.response["view"]["id"], timeout)


def filled(bot: RunningBot, view_id: str, timeout: float = 30.0) -> dict[str, Any]:
    """The view once it is the mapping modal (not the loading view)."""

    def ready() -> dict[str, Any] | None:
        view = bot.slack.view(view_id)
        return view if view["callback_id"] == "mapping_save" else None

    return bot.slack.wait_for(ready, timeout, "the modal was not filled in")


def element(view: dict[str, Any], key: str) -> dict[str, Any]:
    [block] = [b for b in view["blocks"] if b.get("block_id") == f"category_{key}"]
    return block["element"]


def hint(view: dict[str, Any], key: str) -> str:
    [block] = [b for b in view["blocks"] if b.get("block_id") == f"category_{key}"]
    return str(block.get("hint", {}).get("text", ""))


def option_texts(el: dict[str, Any]) -> list[str]:
    options = list(el.get("options", []))
    for group in el.get("option_groups", []):
        options += group["options"]
    return [o["text"]["text"] for o in options]


def offered(view: dict[str, Any]) -> set[str]:
    """The values of every account option the modal offers (empty while it is the loading view)."""
    values: set[str] = set()
    for block in view["blocks"]:
        el = block.get("element", {}) if str(block.get("block_id", "")).startswith("category_") else {}
        options = list(el.get("options", []))
        for group in el.get("option_groups", []):
            options += group["options"]
        values |= {o["value"] for o in options}
    return values


def choices(ids: dict[str, str], picks: dict[str, str] = PICKS) -> dict[str, dict[str, str]]:
    return {f"category_{key}": {f"account_{key}": ids[code]} for key, code in picks.items()}


def keys(picks: Mapping[str, ChartPick]) -> dict[str, str]:
    """The chart keys of a package's picks, for `choices`."""
    return {category: pick.key for category, pick in picks.items()}


def saved_rows(bot: RunningBot) -> dict[str, AccountMapping]:
    with bot.db.session() as s:
        return {row.category: row for row in s.scalars(select(AccountMapping))}


def audit(bot: RunningBot, action: str) -> list[AuditEvent]:
    with bot.db.session() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def save(bot: RunningBot, view: dict[str, Any], values: dict[str, dict[str, Any]]) -> Any:
    delivery = bot.slack.send_view_submission(view["id"], values)
    assert delivery.acked and delivery.problems == (), delivery.problems
    return delivery


def later(bot: RunningBot, minutes: float) -> None:
    """Move the bot's clock on, e.g. past the few minutes a stored chart counts as fresh."""
    moment = bot.server.runtime.clock() + timedelta(minutes=minutes)
    bot.server.runtime.clock = lambda: moment


# Opening the modal


def test_the_command_opens_a_loading_view_then_the_filled_modal(bot: RunningBot, package: PackageDriver) -> None:
    row, organisation = connected(bot, package)
    view = open_modal(bot)
    [opened] = views_opened(bot)
    assert opened.args["view"]["callback_id"] == "mapping_loading"  # open first, fetch after
    assert f"Getting your chart of accounts from {package.title}" in str(opened.args["view"])
    [update] = bot.slack.calls("views.update")
    assert update.args["view_id"] == view["id"] and update.args["hash"] == opened.response["view"]["hash"]
    assert len(package.calls(Resource.ACCOUNTS)) == 1

    assert view["title"]["text"] == "Map account codes" and view["submit"]["text"] == "Save accounting settings"
    labels = [b["label"]["text"] for b in view["blocks"] if b.get("block_id", "").startswith("category_")]
    assert labels == ["Sales", "Services", "Labour", "Materials", "Expenses", "Payments received"]
    assert hint(view, "sales") == BY_KEY["sales"].help
    assert f"in Acme Plumbing Ltd ({package.title})" in "\n".join(block_lines(view["blocks"]))
    with bot.db.session() as s:
        assert s.get(Connection, row.id).chart_refreshed_at is not None  # type: ignore[union-attr]
        assert len(s.scalars(select(ChartAccount)).all()) == package.account_count(organisation)

    # Opened again while the stored chart is fresh: the modal at once, without asking the package.
    again = open_modal(bot)
    assert views_opened(bot)[-1].args["view"]["callback_id"] == "mapping_save" and again["id"] != view["id"]
    assert len(package.calls(Resource.ACCOUNTS)) == 1


def test_the_button_after_connecting_opens_the_modal(bot: RunningBot, package: PackageDriver) -> None:
    connected(bot, package)
    message = shown(bot, "now connected to")
    assert "coming" not in all_text(message)
    view = open_modal(bot, lambda: click(bot, message, "open_mapping"))
    assert element(view, "sales")["type"] == "static_select"


def test_the_app_home_button_opens_the_modal_and_home_shows_the_saved_mapping(
    bot: RunningBot, package: PackageDriver
) -> None:
    _, organisation = connected(bot, package)
    bot.slack.send_event({"type": "app_home_opened", "user": ADMIN, "tab": "home"}, team_id=TEAM)
    home = bot.slack.wait_for(lambda: bot.slack.home_view(ADMIN))
    assert "Account codes are not mapped yet" in str(home)

    view = open_modal(bot, lambda: bot.slack.send_action("open_mapping", user_id=ADMIN, view_id=home["id"]))
    save(bot, view, choices(package.account_ids(organisation), keys(package.chart_picks)))
    # Opened from App Home: the confirmation comes by direct message, and Home is brought up to date.
    dm = bot.slack.wait_for(lambda: [m for m in bot.slack.messages(ADMIN) if "Account codes saved" in all_text(m)])
    assert f"*Materials*: {package.chart_picks['materials'].label}" in all_text(dm[0])  # Xero: 310 – Cost of Goods Sold
    bot.slack.wait_for(lambda: "Account codes mapped for 6 categories" in str(bot.slack.home_view(ADMIN)))


def test_a_slow_provider_still_gets_the_modal_open_within_the_trigger_window(
    bot: RunningBot, package: PackageDriver
) -> None:
    connected(bot, package)
    package.slow_down(3.5)  # longer than a trigger_id lives: fetching before views.open would lose the trigger
    bot.slack.send_command("/accounts map", user_id=ADMIN, channel_id=CHANNEL)
    [opened] = bot.slack.wait_for(lambda: views_opened(bot), 3.0, "views.open did not come within 3 seconds")
    assert opened.ok and opened.args["view"]["callback_id"] == "mapping_loading"
    assert not [c for c in package.calls(Resource.ACCOUNTS) if c.status is not None]
    # The chart is fetched behind the loading view.
    bot.slack.wait_for(lambda: [c for c in package.calls(Resource.ACCOUNTS) if c.status is None])
    view = filled(bot, opened.response["view"]["id"], timeout=60)
    assert element(view, "sales")["type"] == "static_select"


def test_without_a_connection_it_says_to_connect_first(bot: RunningBot) -> None:
    answer = command(bot, "/accounts map", "Nothing is connected yet")
    assert "/accounts connect" in all_text(answer)
    assert views_opened(bot) == []


def test_a_non_admin_is_refused_and_no_modal_opens(bot: RunningBot, package: PackageDriver) -> None:
    connected(bot, package)
    command(bot, "/accounts map", "Only Slack workspace admins", STAFF)
    bot.slack.send_event({"type": "app_home_opened", "user": STAFF, "tab": "home"}, team_id=TEAM)
    home = bot.slack.wait_for(lambda: bot.slack.home_view(STAFF))
    assert "open_mapping" not in str(home)  # App Home offers a member no button that would only refuse them
    assert views_opened(bot) == []
    [refused] = audit(bot, "refused")
    assert refused.actor_user_id == STAFF and refused.detail == {"action": "map"}


# The menus


def test_a_chart_of_30_accounts_gets_menus_grouped_by_type(xero_bot: RunningBot, xero: XeroFake) -> None:
    """Xero only: Xero's generated chart, its account types as the menus' groups."""
    bot = xero_bot
    tenant = xero.add_organisation("Acme Plumbing Ltd", chart=False)
    xero.seed_accounts(tenant, 30)
    log_in(bot, login_url(bot))
    view = open_modal(bot)
    raw = xero.accounts(tenant)
    for category in CATEGORIES:
        el = element(view, category.key)
        assert el["type"] == "static_select", category.key
        allowed = {a["AccountID"] for a in raw if a["Status"] == "ACTIVE" and _kind(a["Type"]) in category.kinds}
        values = {
            o["value"] for g in el.get("option_groups", [{"options": el.get("options", [])}]) for o in g["options"]
        }
        assert values == allowed, category.key
    sales = element(view, "sales")
    assert [g["label"]["text"] for g in sales["option_groups"]] == ["Revenue", "Sales"]
    assert all(" – Generated " in t for t in option_texts(sales))
    banks = option_texts(element(view, "payments_received"))
    assert any(t.startswith("Generated Bank") for t in banks)  # no code: the name alone
    archived = {a["Name"] for a in raw if a["Status"] != "ACTIVE"}
    assert archived and not any(name in str(view) for name in archived)


def test_a_chart_of_1500_accounts_gets_a_typeahead_answered_from_the_database(
    xero_bot: RunningBot, xero: XeroFake
) -> None:
    """Xero only: searched by the codes, names and type words of Xero's generated chart."""
    bot = xero_bot
    tenant = xero.add_organisation("Big Trades Ltd", chart=False)
    xero.seed_accounts(tenant, 1500)
    log_in(bot, login_url(bot))
    view = open_modal(bot, timeout=60)
    assert {element(view, c.key)["type"] for c in CATEGORIES} == {"external_select"}
    assert "search" in hint(view, "sales")
    fetches = len(xero.calls_to("/api.xro/2.0/Accounts"))

    def typed(key: str, text: str) -> list[dict[str, Any]]:
        delivery = bot.slack.send_options(f"account_{key}", text, user_id=ADMIN, view_id=view["id"])
        assert delivery.acked and delivery.problems == () and delivery.elapsed < 3
        groups = delivery.ack.get("option_groups") or [{"options": delivery.ack.get("options", [])}]
        return [o for g in groups for o in g["options"]]

    by_code = typed("sales", "5008")
    assert by_code[0]["text"]["text"] == "5008 – Generated Sales 5008"
    assert [o["text"]["text"] for o in typed("sales", "revenue 6001")] == ["6001 – Generated Revenue 6001"]
    by_words = [o["text"]["text"] for o in typed("sales", "revenue 61")]  # every word, in the code or the name
    assert by_words and all("Revenue" in t and "61" in t for t in by_words)
    assert len(typed("sales", "Generated")) == 100
    materials = [o["text"]["text"] for o in typed("materials", "generated")]
    assert materials and not [t for t in materials if "Sales" in t or "Revenue" in t or "Bank" in t]  # kinds
    active = {a["AccountID"] for a in xero.accounts(tenant) if a["Status"] == "ACTIVE"}
    sales_ids = {o["value"] for o in typed("sales", "gen")}
    assert sales_ids <= active  # archived accounts are left out
    assert len(xero.calls_to("/api.xro/2.0/Accounts")) == fetches  # no call to Xero while typing

    picks = {"sales": typed("sales", "5008")[0], "materials": typed("materials", "directcosts 50")[0]}
    picks["expenses"] = typed("expenses", "overheads")[0]
    picks["payments_received"] = typed("payments_received", "bank")[0]
    save(bot, view, {f"category_{k}": {f"account_{k}": o} for k, o in picks.items()})
    shown(bot, "Account codes saved")
    reopened = open_modal(bot)
    for key, option in picks.items():
        assert element(reopened, key)["initial_option"]["value"] == option["value"]


# Saving


def test_a_save_is_stored_audited_confirmed_and_shown_on_reopening(bot: RunningBot, package: PackageDriver) -> None:
    row, organisation = connected(bot, package)
    ids, picks = package.account_ids(organisation), package.chart_picks
    view = open_modal(bot)
    save(bot, view, choices(ids, keys(picks)))
    assert bot.slack.last_view(ADMIN) is None  # the modal closed

    confirmation = shown(bot, "Account codes saved")
    text = all_text(confirmation)
    for key, pick in picks.items():  # Xero: "*Sales*: 200 – Sales", ..., "*Payments received*: 090 – Business Bank ..."
        assert f"*{BY_KEY[key].label}*: {pick.label}" in text
    rows = saved_rows(bot)
    assert {k: r.account_external_id for k, r in rows.items()} == {k: ids[p.key] for k, p in picks.items()}
    assert {r.saved_by for r in rows.values()} == {ADMIN} and all(r.saved_at for r in rows.values())
    [event] = audit(bot, "mapping.saved")
    assert event.actor_user_id == ADMIN and event.detail["sales"] == picks["sales"].label

    reopened = open_modal(bot)
    for key, pick in picks.items():
        assert element(reopened, key)["initial_option"]["value"] == ids[pick.key], key

    # A later save offers no import again, and audits only what changed.
    shown(bot, "Import your customers now?")
    offers = len([m for m in bot.slack.ephemerals(CHANNEL, ADMIN) if "Import your customers now?" in all_text(m)])
    save(bot, reopened, choices(ids, keys({**picks, "services": picks["sales"]})))
    shown(bot, f"*Services*: {picks['sales'].label}")
    assert (
        len([m for m in bot.slack.ephemerals(CHANNEL, ADMIN) if "Import your customers now?" in all_text(m)]) == offers
    )
    assert audit(bot, "mapping.saved")[-1].detail == {"connection": row.id, "services": picks["sales"].label}


def test_leaving_an_optional_category_empty_removes_its_mapping(bot: RunningBot, package: PackageDriver) -> None:
    _, organisation = connected(bot, package)
    ids, picks = package.account_ids(organisation), keys(package.chart_picks)
    save(bot, open_modal(bot), choices(ids, picks))
    values = choices(ids, picks) | {"category_labour": {"account_labour": None}}
    save(bot, open_modal(bot), values)
    shown(bot, "*Labour*: _not mapped_")
    assert "labour" not in saved_rows(bot) and len(saved_rows(bot)) == 5


def test_the_first_save_offers_the_initial_import(bot: RunningBot, package: PackageDriver) -> None:
    row, organisation = connected(bot, package)
    save(bot, open_modal(bot), choices(package.account_ids(organisation), keys(package.chart_picks)))
    offer = shown(bot, "Import your customers now?")
    buttons = {e["action_id"]: e for b in offer["blocks"] for e in b.get("elements", []) if e.get("type") == "button"}
    # "Yes" starts the import, which is the import's own business (and its own tests').
    assert buttons["import_start"]["text"]["text"] == "Yes, import all my customers"
    assert buttons["import_start"]["value"] == str(row.id)
    assert buttons["import_not_now"]["text"]["text"] == "Not now"
    click(bot, offer, "import_not_now")
    # The click is acknowledged before its listener replaces the offer, which already names `/accounts import`:
    # wait for the offer without its buttons.
    answer = bot.slack.wait_for(
        lambda: [m for m in seen(bot) if m["ts"] == offer["ts"] and "Yes, import all" not in all_text(m)]
    )[-1]
    assert "/accounts import" in all_text(answer)


def test_a_kind_that_is_not_allowed_or_an_archived_account_is_refused_next_to_the_field(
    xero_bot: RunningBot, xero: XeroFake
) -> None:
    """Xero only: picks accounts of Xero's generated chart by their Xero types."""
    bot = xero_bot
    tenant = xero.add_organisation("Big Trades Ltd", chart=False)
    xero.seed_accounts(tenant, 1500)
    log_in(bot, login_url(bot))
    view = open_modal(bot, timeout=60)
    raw = xero.accounts(tenant)
    bank = next(a for a in raw if a["Type"] == "BANK" and a["Status"] == "ACTIVE")
    archived = next(a for a in raw if a["Type"] == "BANK" and a["Status"] != "ACTIVE")
    sales = next(a for a in raw if a["Type"] == "SALES" and a["Status"] == "ACTIVE")

    def label(account: dict[str, Any]) -> str:
        return f"{account['Code']} – {account['Name']}" if account.get("Code") else str(account["Name"])

    def option(account: dict[str, Any]) -> dict[str, Any]:
        return {"text": {"type": "plain_text", "text": label(account)}, "value": account["AccountID"]}

    values = {
        "category_sales": {"account_sales": option(bank)},
        "category_materials": {"account_materials": option(sales)},
        "category_expenses": {"account_expenses": option(next(a for a in raw if a["Type"] == "OVERHEADS"))},
        "category_payments_received": {"account_payments_received": option(archived)},
    }
    delivery = save(bot, view, values)
    assert delivery.ack["response_action"] == "errors"
    assert delivery.ack["errors"] == {
        "category_sales": f"Sales takes income accounts; {label(bank)} is a bank account.",
        "category_materials": (
            f"Materials takes cost of sales or expense accounts; {label(sales)} is an income account."
        ),
        "category_payments_received": f"{label(archived)} is archived. Choose another.",
    }
    assert bot.slack.last_view(ADMIN)["id"] == view["id"]  # type: ignore[index]  # still open, errors shown
    assert saved_rows(bot) == {} and audit(bot, "mapping.saved") == []


def test_an_account_archived_while_the_modal_was_open_is_refused(bot: RunningBot, package: PackageDriver) -> None:
    row, organisation = connected(bot, package)
    ids, materials = package.account_ids(organisation), package.chart_picks["materials"]
    view = open_modal(bot)
    package.archive_account(organisation, ids[materials.key])
    account_mapping.refresh_chart(bot.server.runtime, connection_id=row.id)  # as the sync would, meanwhile
    delivery = save(bot, view, choices(ids, keys(package.chart_picks)))
    assert delivery.ack == {  # Xero: "310 – Cost of Goods Sold is archived. Choose another."
        "response_action": "errors",
        "errors": {"category_materials": f"{materials.label} is archived. Choose another."},
    }
    assert saved_rows(bot) == {}


def test_someone_no_longer_an_admin_cannot_save(bot: RunningBot, package: PackageDriver) -> None:
    _, organisation = connected(bot, package)
    view = open_modal(bot)
    bot.slack.add_user(TEAM, ADMIN, "ada", is_admin=False)  # demoted while the modal was open
    delivery = save(bot, view, choices(package.account_ids(organisation), keys(package.chart_picks)))
    assert delivery.ack["response_action"] == "update"
    assert "Only Slack workspace admins" in str(bot.slack.view(view["id"]))
    assert saved_rows(bot) == {} and audit(bot, "refused")[-1].actor_user_id == ADMIN


# Keeping the chart current


def test_refresh_fetches_the_chart_again_and_keeps_what_was_chosen(bot: RunningBot, package: PackageDriver) -> None:
    _, organisation = connected(bot, package)
    chosen = package.account_ids(organisation)[package.chart_picks["services"].key]  # an income account
    view = open_modal(bot)
    new_id = package.add_income_account(organisation)  # added at the package after the modal opened
    assert new_id not in offered(view)
    bot.slack.send_action(
        "mapping_refresh",
        user_id=ADMIN,
        view_id=view["id"],
        values={"category_sales": {"account_sales": chosen}},
    )
    bot.slack.wait_for(lambda: new_id in offered(bot.slack.view(view["id"])), 5, "the new account was not shown")
    refreshed = filled(bot, view["id"])
    assert element(refreshed, "sales")["initial_option"]["value"] == chosen
    assert len(package.calls(Resource.ACCOUNTS)) == 2


def test_the_chart_is_refreshed_beside_an_import_writing_its_pages(bot: RunningBot, package: PackageDriver) -> None:
    """An import refreshes the chart beside its last pages, whose open transaction holds the connection's row as
    their foreign keys' checks would (FOR KEY SHARE on PostgreSQL, until it commits). The refresh locks the row only
    against another refresh, so it does not wait for that transaction (nor would the pages after it wait behind
    the refresh): with FOR UPDATE it waited until the pages committed."""
    row, organisation = connected(bot, package)
    new_id = package.add_income_account(organisation)
    db = bot.server.runtime.db
    refreshed: list[int] = []
    with db.session() as pages:
        workspace_id = pages.scalar(select(Connection.workspace_id).where(Connection.id == row.id))
        assert workspace_id is not None
        with BulkWriter(pages).keys_checked_once({"workspaces": workspace_id, "connections": row.id}) as locked:
            assert locked == (not db.is_sqlite)  # the row is held as an import's page holds it
            refresh = threading.Thread(
                target=lambda: refreshed.append(account_mapping.refresh_chart(bot.server.runtime, connection_id=row.id))
            )
            refresh.start()
            refresh.join(timeout=30)
            waited = refresh.is_alive()
    refresh.join()  # a refresh still waiting goes on once the transaction ended
    assert not waited, "the chart's refresh waited for the import's open transaction"
    with db.session() as s:
        stored = set(s.scalars(select(ChartAccount.external_id).where(ChartAccount.connection_id == row.id)))
    assert refreshed and new_id in stored


def test_an_account_archived_after_saving_is_flagged(bot: RunningBot, package: PackageDriver) -> None:
    _, organisation = connected(bot, package)
    ids, picks = package.account_ids(organisation), package.chart_picks
    save(bot, open_modal(bot), choices(ids, keys(picks)))
    shown(bot, "Account codes saved")
    command(bot, "/accounts status", "Account codes mapped for 6 categories")

    package.archive_account(organisation, ids[picks["materials"].key])
    archived = f"{picks['materials'].label} is archived in {package.title}"  # 310 – Cost of Goods Sold ... in Xero
    later(bot, minutes=10)  # the stored chart is no longer fresh: opening the modal fetches it again
    view = open_modal(bot)
    assert "initial_option" not in element(view, "materials")
    assert hint(view, "materials").startswith(f":warning: {archived}: choose another.")
    assert element(view, "sales")["initial_option"]["value"] == ids[picks["sales"].key]
    bot.slack.close_view(view["id"])

    status = all_text(command(bot, "/accounts status", "needs attention", STAFF))
    assert f"*Materials*: {archived}" in status
    assert "An admin can fix it with `/accounts map`" in status
    bot.slack.send_event({"type": "app_home_opened", "user": STAFF, "tab": "home"}, team_id=TEAM)
    home = bot.slack.wait_for(lambda: bot.slack.home_view(STAFF))
    assert archived in str(home) and "open_mapping" not in str(home)  # a member: told, not given the button


def test_when_the_package_fails_the_modal_says_so(bot: RunningBot, package: PackageDriver) -> None:
    connected(bot, package)
    package.fail_next(Resource.ACCOUNTS, 503, times=package.tries)  # Xero: the first try and both retries
    bot.slack.send_command("/accounts map", user_id=ADMIN, channel_id=CHANNEL)
    [opened] = bot.slack.wait_for(lambda: views_opened(bot))
    view_id = opened.response["view"]["id"]
    bot.slack.wait_for(lambda: "could not get the chart of accounts" in str(bot.slack.view(view_id)))

    # With a chart stored earlier, a failed refresh shows it, and says so.
    open_modal(bot)
    later(bot, minutes=10)
    package.fail_next(Resource.ACCOUNTS, 503, times=package.tries)
    view = open_modal(bot)
    assert "Showing the chart as it was" in str(view["blocks"])
    assert element(view, "sales")["type"] == "static_select"


# The service on its own, on each database


def _kind(xero_type: str) -> str:
    from providers.xero.mappers import account_kind

    return account_kind(xero_type, None)


def _connection(db: Database) -> Connection:
    with db.session() as s:
        workspace = Workspace(team_id=TEAM, name="Acme")
        s.add(workspace)
        s.flush()
        connection = Connection(
            workspace_id=workspace.id, provider="xero", organisation_id="org-1", organisation_name="Acme Plumbing"
        )
        s.add(connection)
        s.flush()
        return connection


def _account(id_: str, code: str | None, name: str, kind: str = "income", **kw: Any) -> Account:
    return Account(id=id_, code=code, name=name, kind=kind, type=kw.pop("type", "REVENUE"), **kw)


NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def test_storing_the_chart_updates_adds_and_removes_accounts(db: Database) -> None:
    connection = _connection(db)
    with db.session() as s:
        row = s.get(Connection, connection.id)
        assert row is not None
        account_mapping.store_chart(
            s, connection=row, accounts=[_account("a", "200", "Sales"), _account("b", "210", "Old")], now=NOW
        )
    with db.session() as s:
        row = s.get(Connection, connection.id)
        assert row is not None
        accounts = [_account("a", "201", "Sales & Service", active=False), _account("c", None, "Savings", "bank")]
        account_mapping.store_chart(s, connection=row, accounts=accounts, now=NOW + timedelta(hours=1))
    with db.session() as s:
        chart = account_mapping.chart(s, connection_id=connection.id)
        assert set(chart) == {"a", "c"}
        assert chart["a"].label == "201 – Sales & Service" and not chart["a"].active
        assert chart["c"].label == "Savings"
        assert s.get(Connection, connection.id).chart_refreshed_at == NOW + timedelta(hours=1)  # type: ignore[union-attr]


def test_a_chart_refreshed_as_it_was_writes_none_of_its_rows(db: Database) -> None:
    """The end of every import refreshes the chart, mostly unchanged: only what changed is written (on SQLite each
    write waits for the import's own), and each row's `fetched_at` says when it last changed."""
    connection = _connection(db)
    accounts = [_account("a", "200", "Sales"), _account("b", "210", "Other income")]
    rates = [TaxRate(code="OUTPUT", name="GST on Income", rate=Decimal("15"), suits=frozenset({"income"}))]

    def store(accounts: list[Account], rates: list[TaxRate], now: datetime) -> list[str]:
        written: list[str] = []

        def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
                written.append(" ".join(statement.split()[:3]))

        event.listen(db.engine, "before_cursor_execute", seen)
        try:
            with db.session() as s:
                row = s.get(Connection, connection.id)
                assert row is not None
                account_mapping.store_chart(s, connection=row, accounts=accounts, now=now)
                tax_codes.store_tax_rates(s, connection=row, rates=rates, now=now)
        finally:
            event.remove(db.engine, "before_cursor_execute", seen)
        return written

    assert any("chart_accounts" in w for w in store(accounts, rates, NOW))
    again = store(accounts, rates, NOW + timedelta(hours=1))
    assert again == ["UPDATE connections SET"], again  # its `chart_refreshed_at` only

    renamed = [accounts[0], _account("b", "210", "Other income (old)", active=False)]
    changed = store(renamed, [replace(rates[0], rate=Decimal("12.5"))], NOW + timedelta(hours=2))
    assert sorted(changed) == ["UPDATE chart_accounts SET", "UPDATE chart_tax_rates SET", "UPDATE connections SET"]
    with db.session() as s:
        fetched = {a.external_id: a.fetched_at for a in s.scalars(select(ChartAccount))}
        assert fetched == {"a": NOW, "b": NOW + timedelta(hours=2)}
        assert account_mapping.chart(s, connection_id=connection.id)["b"].label == "210 – Other income (old)"
        assert tax_codes.tax_codes(s, connection_id=connection.id)["OUTPUT"].rate == Decimal("12.5")
        assert s.get(Connection, connection.id).chart_refreshed_at == NOW + timedelta(hours=2)  # type: ignore[union-attr]


def test_the_typeahead_matches_codes_and_names_prefixes_first(db: Database) -> None:
    connection = _connection(db)
    accounts = [
        _account("1", "400", "Advertising", "expense"),
        _account("2", "200", "Sales"),
        _account("3", "2000", "Labour 100% recharged"),
        _account("4", "120", "Subcontracted sales 200"),
        _account("5", "201", "Archived sales", active=False),
        _account("6", None, "Sales deposits"),
        _account("7", "310", "Sales_tax"),
    ]
    with db.session() as s:
        row = s.get(Connection, connection.id)
        assert row is not None
        account_mapping.store_chart(s, connection=row, accounts=accounts, now=NOW)
    sales = load_categories()[0]

    def search(query: str) -> list[str]:
        with db.session() as s:
            return [
                e.label
                for e in account_mapping.search_accounts(s, connection_id=connection.id, category=sales, query=query)
            ]

    assert search("200") == ["200 – Sales", "2000 – Labour 100% recharged", "120 – Subcontracted sales 200"]
    # Name prefixes, coded accounts first; then the word anywhere else in a name.
    assert search("SALES") == ["200 – Sales", "310 – Sales_tax", "Sales deposits", "120 – Subcontracted sales 200"]
    assert search("100%") == ["2000 – Labour 100% recharged"]  # % is a character, not a wildcard
    assert search("s_d") == []  # and so is _ (as a wildcard it would find "Sales deposits")
    assert search("s_t") == ["310 – Sales_tax"]
    assert search("sub 200") == ["120 – Subcontracted sales 200"]
    assert search("advert") == []  # an expense account is not offered for Sales
    assert len(search("")) == 5


def test_saving_checks_required_categories_and_gone_accounts_are_flagged(db: Database) -> None:
    connection = _connection(db)
    categories = load_categories()
    accounts = [
        _account("s", "200", "Sales"),
        _account("m", "310", "Cost of Goods Sold", "cost_of_sales", type="DIRECTCOSTS"),
        _account("e", "429", "General Expenses", "expense", type="OVERHEADS"),
        _account("b", "090", "Bank", "bank", type="BANK"),
    ]
    with db.session() as s:
        row = s.get(Connection, connection.id)
        assert row is not None
        account_mapping.store_chart(s, connection=row, accounts=accounts, now=NOW)
        missing = account_mapping.save_mapping(
            s, connection=row, categories=categories, chosen={"sales": "s", "expenses": "nope"}, user_id=ADMIN, now=NOW
        )
        assert missing.errors == {
            "materials": "Choose the account Materials posts to.",
            "expenses": "That account is no longer in the chart of accounts. Choose another.",
            "payments_received": "Choose the account Payments received posts to.",
        }
        saved = account_mapping.save_mapping(
            s,
            connection=row,
            categories=categories,
            chosen={"sales": "s", "materials": "m", "expenses": "e", "payments_received": "b"},
            user_id=ADMIN,
            now=NOW,
        )
        assert (
            saved.ok and saved.first and set(saved.changed) == {"sales", "materials", "expenses", "payments_received"}
        )
        status = account_mapping.mapping_status(s, connection=row, categories=categories)
        assert status.started and not status.needs_attention and status.mapped == 4

        # The bank account is deleted in the package and Sales' account becomes a bank account.
        account_mapping.store_chart(
            s, connection=row, accounts=[_account("s", "200", "Sales", "bank", type="BANK"), *accounts[1:3]], now=NOW
        )
        status = account_mapping.mapping_status(s, connection=row, categories=categories)
        assert status.needs_attention
        assert [(p.category.key, p.reason, p.account and p.account.label) for p in status.problems] == [
            ("sales", "wrong_kind", "200 – Sales"),
            ("payments_received", "gone", "090 – Bank"),  # named from what was saved
        ]
