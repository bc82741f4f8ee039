"""The invoice form's builders without Slack: a refused invoice's words under its fields (within Slack's limits,
escaped), the due date's block renamed when we change the date, and the metadata the form carries read back
defensively."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bot.invoices.previews import MAX_LINES
from bot.invoices.refusals import Resubmission
from bot.views import invoices as views
from tests.fakes.blockkit import check_view
from tests.test_invoice_money import _setup

TODAY = date(2026, 12, 2)


def refused(lines: int, problems: dict[str, str], notice: tuple[str, ...] = ()) -> Resubmission:
    line = {"category": "sales", "description": "Hot water", "quantity": "1", "unit_price": "100", "tax_code": "X"}
    return Resubmission(
        invoice_id=1,
        channel_id="C0GENERAL1",
        customer_id=7,
        customer_name="Jo <b> Bloggs",
        issued_on=TODAY,
        due_on=date(2026, 12, 16),
        reference="Job 42",
        inclusive=False,
        lines=tuple(dict(line) for _ in range(lines)),
        problems=problems,
        notice=notice,
    )


def under(view: dict[str, Any]) -> dict[str, str]:
    blocks = view["blocks"]
    return {
        blocks[n - 1]["block_id"]: b["elements"][0]["text"]
        for n, b in enumerate(blocks)
        if b["type"] == "context" and b.get("block_id", "").endswith("_problem")
    }


def test_a_refused_form_of_ten_lines_with_words_under_every_field_keeps_to_slacks_limits() -> None:
    fields = ("category", "description", "quantity", "price", "tax")
    problems = {f"line_{n}_{f}": "<!channel> " + "x" * 2500 for n in range(1, MAX_LINES + 1) for f in fields}
    problems |= {"invoice_customer": "No such contact", "due_date": "Too early"}
    metadata = views.FormMetadata(1, "C0GENERAL1", MAX_LINES, due=date(2026, 12, 16))
    view = views.invoice_form(_setup(), metadata, today=TODAY, approve=False, again=refused(MAX_LINES, problems))
    assert check_view(view) == []
    shown = under(view)
    assert shown["invoice_customer"] == "⚠ Xero: No such contact" and shown["due_date"] == "⚠ Xero: Too early"
    assert "<!channel>" not in str(view["blocks"]) and "&lt;!channel&gt;" in shown["line_1_category"]
    # the words that found no place (Slack's hundred blocks) are told in the heading, not dropped
    heading = view["blocks"][0]["text"]["text"]
    assert len(shown) < len(problems) and "x" * 50 in heading and "<!channel>" not in heading


def test_words_about_a_field_the_form_lacks_are_told_in_its_heading() -> None:
    setup = _setup()
    without_tax = type(setup)(setup.connection_id, setup.organisation_name, setup.provider_title, setup.categories, ())
    view = views.invoice_form(
        without_tax,
        views.FormMetadata(1, None, 1),
        today=TODAY,
        approve=False,
        again=refused(1, {"line_1_tax": "That tax rate is archived."}, ("Contact is archived.",)),
    )
    assert under(view) == {}
    assert "Contact is archived. That tax rate is archived." in view["blocks"][0]["text"]["text"]


def test_a_new_due_date_is_shown_in_a_new_block_and_read_back_from_it() -> None:
    metadata = views.FormMetadata(1, "C0GENERAL1", 1, due=date(2026, 12, 16))
    problems = {"line_1_tax": "Not valid for this account."}
    opened = views.invoice_form(_setup(), metadata, today=TODAY, approve=False, again=refused(1, problems))
    newer = views.FormMetadata(1, "C0GENERAL1", 1, due=date(2027, 1, 20), due_version=1)
    shown = opened | {"id": "V1", "hash": "1.a", "state": {"values": {}}, "team_id": "T1"}
    updated = views.form_with(shown, newer, due=date(2027, 1, 20), customer=(8, "Pat"))
    assert check_view(updated) == [] and "id" not in updated and "hash" not in updated
    blocks = {b.get("block_id"): b for b in updated["blocks"]}
    assert "due_date" not in blocks and blocks["due_date_1"]["element"]["initial_date"] == "2027-01-20"
    assert blocks["due_date_1"]["element"]["action_id"] == "due_date_1" and blocks["due_date_1"]["dispatch_action"]
    assert blocks["invoice_customer"]["element"]["initial_option"]["value"] == "8"
    assert under(updated) == under(opened)  # the refusal's words stay
    assert views.FormMetadata.loads(updated["private_metadata"]) == newer

    values = {
        "invoice_customer": {"invoice_customer": {"type": "external_select", "selected_option": {"value": "8"}}},
        "date": {"date": {"type": "datepicker", "selected_date": "2026-12-02"}},
        "due_date_1": {"due_date_1": {"type": "datepicker", "selected_date": "2026-11-30"}},
        "line_1_category": {"line_1_category": {"type": "static_select", "selected_option": {"value": "sales"}}},
        "line_1_description": {"line_1_description": {"type": "plain_text_input", "value": "Tap"}},
        "line_1_price": {"line_1_price": {"type": "plain_text_input", "value": "10"}},
    }
    draft, errors = views.read_form(values, 1, due_block=newer.due_block)
    assert errors == {} and draft is not None and draft.due_on == date(2026, 11, 30)
    assert views.form_errors({"due_date": "Before the invoice date."}, due_block=newer.due_block) == {
        "due_date_1": "Before the invoice date."
    }
    assert views.shown_date(values, "due_date_1") == date(2026, 11, 30)


def test_the_forms_metadata_reads_back_what_it_wrote() -> None:
    for metadata in (
        views.FormMetadata(1, None),
        views.FormMetadata(2**31 - 1, "C0GENERAL1", MAX_LINES, date(2027, 2, 28), 9999, True),
    ):
        assert views.FormMetadata.loads(metadata.dumps()) == metadata
        assert len(metadata.dumps()) < 3000


@given(
    extra=st.dictionaries(
        st.sampled_from(["d", "v", "p"]),
        st.none() | st.booleans() | st.integers() | st.text(max_size=12) | st.floats(allow_nan=False),
        min_size=1,
    )
)
def test_hostile_metadata_is_refused_or_read_as_dates_and_counts(extra: dict[str, Any]) -> None:
    read = views.FormMetadata.loads(json.dumps({"c": 1, "ch": None, "n": 1} | extra))
    if read is not None:
        assert read.due is None or isinstance(read.due, date)
        assert 0 <= read.due_version <= 10_000 and isinstance(read.due_picked, bool)
        assert views.is_due_block(read.due_block)


def test_a_refusal_of_the_whole_invoices_prices_is_told_by_the_unit_prices_choice() -> None:
    """Told by message (the modal was closed): an amount refused for no line names the "Unit prices" choice; one of
    a line names the line's amount."""
    words = "Prices must be before tax."
    blocks = views.refused_blocks("Books", [(None, "amount", words), (1, "amount", "Too large.")], invoice_id=3)
    said = [b["text"]["text"] for b in blocks if b["type"] == "section"][1:]
    assert said == [f"*Unit prices*: {words}", "*Line 2 · Amount*: Too large."]
