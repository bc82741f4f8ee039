"""Every provider reads the same records: the chart of accounts with each account's kind, and customers in pages
that resume from a cursor, everything or only what changed since a time."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

from providers.base import AccountKind, Cursor
from tests.providers.conftest import Env
from tests.providers.packages import Resource

PAGE = 100


def test_the_chart_of_accounts_with_kinds(env: Env) -> None:
    _, link, _ = env.connect()

    accounts = {a.name: a for a in env.provider.accounts(link)}

    assert len(accounts) == env.driver.account_count(env.organisations[0])
    assert all(isinstance(a.kind, AccountKind) and a.type for a in accounts.values())
    for name, expected in env.driver.expected_accounts.items():
        account = accounts[name]
        assert (account.code, account.kind, account.type, account.active) == (
            expected.code,
            expected.kind,
            expected.type,
            expected.active,
        ), name
        assert expected.tax_type in (None, account.tax_type), name
        assert env.provider.account_type_label(account.type)
    assert {AccountKind.INCOME, AccountKind.EXPENSE, AccountKind.BANK} <= {a.kind for a in accounts.values()}


def test_customers_come_in_pages(make_env: Callable[..., Env]) -> None:
    env = make_env(page_size=PAGE)
    ids = env.driver.seed_customers(env.organisations[0], 2 * PAGE + 50)
    _, link, _ = env.connect()

    pages = list(env.provider.customers(link))

    assert [len(p.customers) for p in pages] == [PAGE, PAGE, 50]
    assert [p.cursor is None for p in pages] == [False, False, True]
    if env.driver.reports_total:
        assert [p.total for p in pages] == [len(ids)] * 3
    seen = [c.id for p in pages for c in p.customers]
    assert sorted(seen) == sorted(ids)  # archived ones too, so that archiving is seen
    assert any(not c.active for p in pages for c in p.customers)
    assert len(env.driver.calls(Resource.CUSTOMERS)) == 3


def test_customers_resume_from_a_cursor(make_env: Callable[..., Env]) -> None:
    env = make_env(page_size=PAGE)
    env.driver.seed_customers(env.organisations[0], 2 * PAGE + 50)
    _, link, _ = env.connect()
    first = next(iter(env.provider.customers(link)))  # the walk stops here, as a run that crashed would
    assert first.cursor is not None
    stored = Cursor(json.loads(json.dumps(first.cursor.value)))  # as the run keeps it

    rest = list(env.provider.customers(link, resume=stored))

    everything = [c.id for p in env.provider.customers(link) for c in p.customers]
    assert [c.id for p in [first, *rest] for c in p.customers] == everything
    assert [len(p.customers) for p in rest] == [PAGE, 50]


def test_an_organisation_without_customers(env: Env) -> None:
    _, link, _ = env.connect()

    pages = list(env.provider.customers(link))

    assert [(p.customers, p.cursor) for p in pages] == [([], None)]
    assert pages[0].total == (0 if env.driver.reports_total else None)


def test_customers_changed_since_a_time(make_env: Callable[..., Env]) -> None:
    env = make_env(page_size=PAGE)
    organisation = env.organisations[0]
    ids = env.driver.seed_customers(organisation, PAGE + 20)
    _, link, _ = env.connect()
    since = datetime.fromtimestamp(env.clock(), UTC)
    env.clock.advance(600)
    env.driver.change_customer(organisation, ids[10], email="new@example.com")
    env.driver.archive_customer(organisation, ids[20])

    pages = list(env.provider.customers(link, since=since))

    changed = {c.id: c for p in pages for c in p.customers}
    assert set(changed) == {ids[10], ids[20]}
    updated_at = changed[ids[10]].updated_at
    assert changed[ids[10]].email == "new@example.com" and updated_at is not None and updated_at > since
    assert not changed[ids[20]].active
    assert pages[-1].cursor is None
