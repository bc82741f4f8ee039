"""Every package that raises invoices keeps the same contract (`providers.invoicing.Invoicing`), checked against what
its fake then holds: tax codes with Decimal rates; an invoice made with the account, tax code and totals the package
worked out (a three-decimal unit price, a tax-inclusive line, or its refusal in words where the organisation takes
prices before tax only); one invoice and one payment per idempotency key, even when the answer is lost after the
package committed; refusals by line and in words; an invoice paid at the package read back as paid; and "slow down"
and 5xx on the invoice resources as on the others."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import urlsplit

import pytest

from providers.base import AccountKind, Link, RateLimited, RateLimitScope, Unavailable
from providers.invoicing import (
    AmountsAre,
    Invoice,
    InvoiceLine,
    InvoiceRefused,
    InvoiceState,
    Invoicing,
    NewInvoice,
    NewPayment,
    Payment,
)
from tests.providers.conftest import Env
from tests.providers.packages import Failure, HeldInvoice, InvoicingSetup, Resource

pytestmark = pytest.mark.package_has("invoicing")

ISSUED, DUE, PAID_ON = date(2026, 12, 2), date(2026, 12, 16), date(2026, 12, 3)
WRITES = (Resource.INVOICES, Resource.PAYMENTS)


def cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def ready(env: Env) -> tuple[Invoicing, Link, InvoicingSetup]:
    """Connected to the organisation, with what an invoice needs seeded there."""
    _, link, _ = env.connect()
    setup = env.driver.invoicing_ready(env.organisations[0])
    assert isinstance(env.provider, Invoicing)
    return env.provider, link, setup


def line(setup: InvoicingSetup, quantity: str, price: str, description: str = "Hot water cylinder") -> InvoiceLine:
    return InvoiceLine(description, Decimal(quantity), Decimal(price), setup.account_code, setup.tax_code)


def new_invoice(
    setup: InvoicingSetup, *lines: InvoiceLine, inclusive: bool = False, approve: bool = False
) -> NewInvoice:
    return NewInvoice(
        customer_id=setup.customer_id,
        date=ISSUED,
        due_date=DUE,
        lines=lines or (line(setup, "1", "100"),),
        amounts_are=AmountsAre.INCLUSIVE if inclusive else AmountsAre.EXCLUSIVE,
        reference="Job 42",
        approve=approve,
    )


def held(env: Env) -> list[HeldInvoice]:
    organisation = env.organisations[0]
    return [env.driver.read_invoice(organisation, body) for body in env.driver.invoices_at_package(organisation)]


def rate_of(provider: Invoicing, link: Link, code: str) -> Decimal:
    return {r.code: r.rate for r in provider.tax_rates(link)}[code]


def once_more_if_unanswered(call: Callable[[], Invoice | Payment]) -> Invoice | Payment:
    """What the bot does: a call that got no answer is asked again with the same key."""
    try:
        return call()
    except Unavailable:
        return call()


# -- tax codes ----------------------------------------------------------------------------------------------------


def test_tax_rates_are_the_packages_codes_with_decimal_rates(env: Env) -> None:
    provider, link, setup = ready(env)

    rates = provider.tax_rates(link)

    by_code = {r.code: r for r in rates}
    assert len(by_code) == len(rates) and rates
    assert all(isinstance(r.rate, Decimal) and -100 < r.rate < 100 and r.name for r in rates)
    # a rate counted negative (MYOB's withholding codes) is a purchases' code, never offered for a sale
    assert all(r.rate >= 0 or not r.suits_kind(AccountKind.INCOME) for r in rates)
    active = {r.code for r in rates if r.active}
    assert setup.tax_code in active and by_code[setup.tax_code].rate > 0
    assert set(env.driver.tax_picks.values()) <= active
    sales = by_code[env.driver.tax_picks["sales"]]
    assert sales.rate > 0 and sales.suits_kind(AccountKind.INCOME)


# -- creating -----------------------------------------------------------------------------------------------------


def test_an_invoice_is_made_at_the_package_with_its_account_tax_code_and_totals(env: Env) -> None:
    provider, link, setup = ready(env)
    rate = rate_of(provider, link, setup.tax_code)
    lines = (line(setup, "1", "1250.00"), line(setup, "3", "33.335", "Copper fittings"))

    made = provider.create_invoice(link, new_invoice(setup, *lines), idempotency_key="k-made")

    [there] = held(env)
    assert (made.id, made.customer_id, there.customer_id) == (there.id, setup.customer_id, setup.customer_id)
    assert [(x.description, x.quantity, x.unit_price, x.account_code, x.tax_code) for x in there.lines] == [
        ("Hot water cylinder", Decimal(1), Decimal("1250.00"), setup.account_code, setup.tax_code),
        ("Copper fittings", Decimal(3), Decimal("33.335"), setup.account_code, setup.tax_code),
    ]
    money = (made.subtotal, made.tax, made.total, made.amount_due, made.amount_paid)
    assert all(isinstance(amount, Decimal) for amount in money)
    assert (made.subtotal, made.tax, made.total) == (there.subtotal, there.tax, there.total)
    assert made.subtotal == Decimal("1350.01")  # 3 × 33.335 = 100.005, to the cent half up: 100.01
    # tax to the cent line by line or on the subtotal: the same here, 1250 × rate % being whole cents
    assert (
        made.tax
        == cents(Decimal("1350.01") * rate / 100)
        == cents(1250 * rate / 100) + cents(Decimal("100.01") * rate / 100)
    )
    assert made.total == made.subtotal + made.tax == made.amount_due and made.amount_paid == 0
    assert made.state in (InvoiceState.DRAFT, InvoiceState.APPROVED) and made.due_date in (None, DUE)


@pytest.mark.package_has("tax_inclusive_prices")
def test_a_tax_inclusive_line_has_its_tax_worked_out_of_the_price(env: Env) -> None:
    provider, link, setup = ready(env)
    rate = rate_of(provider, link, setup.tax_code)

    inclusive = new_invoice(setup, line(setup, "1", "100"), inclusive=True)
    made = provider.create_invoice(link, inclusive, idempotency_key="k-inclusive")

    [there] = held(env)
    assert made.total == there.total == Decimal("100.00")
    assert made.tax == there.tax == cents(100 * rate / (100 + rate)) > 0  # 15%: 13.04
    assert made.subtotal == there.subtotal == Decimal(100) - made.tax


@pytest.mark.package_has("tax_inclusive_words")
def test_tax_inclusive_prices_an_organisation_does_not_take_are_refused_in_words_and_nothing_is_made(env: Env) -> None:
    provider, link, setup = ready(env)

    with pytest.raises(InvoiceRefused) as refused:
        provider.create_invoice(link, new_invoice(setup, inclusive=True), idempotency_key="k-inclusive")

    assert env.driver.tax_inclusive_words in refused.value.message and held(env) == []
    assert [(r.line, r.field) for r in refused.value.refusals] == [(None, "amount")]
    made = provider.create_invoice(link, new_invoice(setup), idempotency_key="k-exclusive")  # prices before tax
    assert [i.id for i in held(env)] == [made.id]


def test_the_same_key_twice_makes_one_invoice(env: Env) -> None:
    provider, link, setup = ready(env)

    first = provider.create_invoice(link, new_invoice(setup), idempotency_key="k-1")
    again = provider.create_invoice(link, new_invoice(setup), idempotency_key="k-1")

    assert again.id == first.id and [i.id for i in held(env)] == [first.id]
    other = provider.create_invoice(link, new_invoice(setup), idempotency_key="k-2")
    assert other.id != first.id and sorted(i.id for i in held(env)) == sorted([first.id, other.id])


def test_an_answer_lost_after_the_package_made_the_invoice_then_asked_again_makes_one(env: Env) -> None:
    provider, link, setup = ready(env)
    env.driver.lose_next_answer(Resource.INVOICES)

    made = once_more_if_unanswered(lambda: provider.create_invoice(link, new_invoice(setup), idempotency_key="k-lost"))

    assert [i.id for i in held(env)] == [made.id]


def test_an_invoice_on_an_account_the_package_lacks_is_refused_by_its_line(env: Env) -> None:
    provider, link, setup = ready(env)
    unknown = InvoiceLine("Fittings", Decimal(1), Decimal(5), "Z-9999", setup.tax_code)

    with pytest.raises(InvoiceRefused) as refused:
        provider.create_invoice(link, new_invoice(setup, line(setup, "1", "100"), unknown), idempotency_key="bad")

    concerning = [r for r in refused.value.refusals if (r.line, r.field) == (1, "account")]
    assert concerning and all(r.message and r.message in refused.value.message for r in concerning)
    assert refused.value.format_message().startswith(refused.value.message) and held(env) == []


def test_a_validation_answer_to_an_invoice_is_refused_in_words(env: Env) -> None:
    provider, link, setup = ready(env)
    case = env.driver.errors[Failure.VALIDATION]
    env.driver.fail_next(Resource.INVOICES, case.status, case.body, headers=case.headers)

    with pytest.raises(InvoiceRefused) as refused:
        provider.create_invoice(link, new_invoice(setup), idempotency_key="k-refused")

    assert refused.value.refusals and all(r.message in refused.value.message for r in refused.value.refusals)
    assert held(env) == []


# -- payments and reading back ------------------------------------------------------------------------------------


def test_a_payment_is_recorded_once_per_key_and_never_above_the_amount_due(env: Env) -> None:
    provider, link, setup = ready(env)
    organisation = env.organisations[0]
    made = provider.create_invoice(link, new_invoice(setup, approve=True), idempotency_key="k-pay")
    too_much = NewPayment(made.id, setup.payment_account_code, PAID_ON, made.amount_due + Decimal("0.01"))

    with pytest.raises(InvoiceRefused) as refused:
        provider.record_payment(link, too_much, idempotency_key="p-0")
    assert env.driver.overpayment_words in refused.value.message
    assert env.driver.payments_at_package(organisation) == []

    part = NewPayment(made.id, setup.payment_account_code, PAID_ON, Decimal("40.00"))
    first = provider.record_payment(link, part, idempotency_key="p-1")
    again = provider.record_payment(link, part, idempotency_key="p-1")

    assert again.id == first.id and (first.invoice_id, first.amount) == (made.id, Decimal("40.00"))
    [payment] = [env.driver.read_payment(organisation, p) for p in env.driver.payments_at_package(organisation)]
    assert (payment.invoice_id, payment.amount, payment.account_code) == (
        made.id,
        Decimal("40.00"),
        setup.payment_account_code,
    )
    [back] = provider.invoices(link, ids=[made.id])
    assert (back.amount_paid, back.amount_due, back.state) == (
        Decimal("40.00"),
        made.total - Decimal("40.00"),
        InvoiceState.APPROVED,
    )


def test_a_payment_whose_answer_was_lost_then_asked_again_is_recorded_once(env: Env) -> None:
    provider, link, setup = ready(env)
    made = provider.create_invoice(link, new_invoice(setup, approve=True), idempotency_key="k-lost-pay")
    env.driver.lose_next_answer(Resource.PAYMENTS)
    payment = NewPayment(made.id, setup.payment_account_code, PAID_ON, Decimal("10.00"))

    once_more_if_unanswered(lambda: provider.record_payment(link, payment, idempotency_key="p-lost"))

    assert len(env.driver.payments_at_package(env.organisations[0])) == 1
    [back] = provider.invoices(link, ids=[made.id])
    assert back.amount_paid == Decimal("10.00")


def test_an_invoice_paid_at_the_package_reads_back_paid_and_only_what_changed_since(env: Env) -> None:
    provider, link, setup = ready(env)
    paid = provider.create_invoice(link, new_invoice(setup), idempotency_key="k-paid")
    unchanged = provider.create_invoice(link, new_invoice(setup), idempotency_key="k-unchanged")
    # a read of changes starts `changes_overlap` before `since` (MYOB), and a package may count a change made at
    # the very moment `since` names (QuickBooks): move well past both
    overlap = env.driver.changes_overlap
    env.clock.advance(600 + overlap)
    since = datetime.fromtimestamp(env.clock(), UTC)
    env.clock.advance(600)

    env.driver.pay_at_package(env.organisations[0], paid.id)

    [back] = provider.invoices(link, ids=[paid.id, unchanged.id], since=since)
    assert (back.id, back.state, back.amount_paid, back.amount_due) == (
        paid.id,
        InvoiceState.PAID,
        paid.total,
        Decimal(0),
    )
    assert isinstance(back.amount_paid, Decimal) and back.total == paid.total
    everything = provider.invoices(link, ids=[paid.id, unchanged.id])
    assert {i.id: i.state for i in everything}[unchanged.id] == unchanged.state
    env.clock.advance(600 + overlap)
    assert provider.invoices(link, ids=[paid.id, unchanged.id], since=datetime.fromtimestamp(env.clock(), UTC)) == []


def test_the_invoice_url_is_an_https_link_naming_the_invoice(env: Env) -> None:
    provider, link, setup = ready(env)
    made = provider.create_invoice(link, new_invoice(setup), idempotency_key="k-url")

    url = provider.invoice_url(link, made.id)

    assert urlsplit(url).scheme == "https" and urlsplit(url).netloc and made.id in url


# -- slow down, and the package failing --------------------------------------------------------------------------


def call_on(env: Env, resource: Resource) -> Callable[[], object]:
    """A call to `resource` ready to make (for PAYMENTS, on an approved invoice made first)."""
    provider, link, setup = ready(env)
    if resource == Resource.TAX_CODES:
        return lambda: provider.tax_rates(link)
    if resource == Resource.INVOICES:
        return lambda: provider.create_invoice(link, new_invoice(setup), idempotency_key="k-call")
    made = provider.create_invoice(link, new_invoice(setup, approve=True), idempotency_key="k-to-pay")
    payment = NewPayment(made.id, setup.payment_account_code, PAID_ON, Decimal("10.00"))
    return lambda: provider.record_payment(link, payment, idempotency_key="p-call")


def written(env: Env, resource: Resource) -> int:
    """What the package holds of `resource` (invoices, or payments)."""
    organisation = env.organisations[0]
    if resource == Resource.INVOICES:
        return len(env.driver.invoices_at_package(organisation))
    return len(env.driver.payments_at_package(organisation))


@pytest.mark.package_cases("rate_limits", "scope")
@pytest.mark.parametrize("resource", [Resource.TAX_CODES, *WRITES])
def test_slow_down_on_the_invoice_resources_raises_rate_limited_at_once(
    env: Env, scope: RateLimitScope, resource: Resource
) -> None:
    case = env.driver.rate_limits[scope]
    call = call_on(env, resource)
    before = len(env.driver.calls(resource))
    waits = scope in env.driver.waits_out  # waited out a few times before it is raised: it goes on here
    env.driver.fail_next(resource, case.status, case.body, headers=case.headers, times=10 if waits else 1)

    with pytest.raises(RateLimited) as caught:
        call()

    assert (caught.value.retry_after, caught.value.scope) == (case.retry_after, scope)
    tries = len(env.driver.calls(resource)) - before
    assert env.clock.slept == [case.retry_after] * (tries - 1) and (tries == 1 or waits and tries < 10)
    assert resource not in WRITES or written(env, resource) == 0


@pytest.mark.parametrize("resource", [Resource.TAX_CODES, *WRITES])
def test_a_5xx_on_the_invoice_resources_is_retried(env: Env, resource: Resource) -> None:
    call = call_on(env, resource)
    env.driver.fail_next(resource, 503)

    assert call()

    statuses = [c.status for c in env.driver.calls(resource)]
    assert 503 in statuses and statuses[-1] in (200, 201)  # MYOB answers a create 201
    assert resource not in WRITES or written(env, resource) == 1


@pytest.mark.parametrize("resource", [Resource.TAX_CODES, *WRITES])
def test_5xx_that_go_on_are_given_up_as_unavailable_and_nothing_is_written(env: Env, resource: Resource) -> None:
    call = call_on(env, resource)
    env.driver.fail_next(resource, 500, times=10)

    with pytest.raises(Unavailable, match="HTTP 500"):
        call()

    assert len(env.clock.slept) >= 1
    assert resource not in WRITES or written(env, resource) == 0
