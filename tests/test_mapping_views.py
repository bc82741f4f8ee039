"""The mapping modal, its typeahead answers, the confirmation, the import offer, the status lines and the
category settings: pure functions checked against Slack's Block Kit limits, without Slack or a database."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.categories import CategoriesError, Category, load_categories, parse_categories
from bot.mapping.account_mapping import (
    CategoryField,
    ChartEntry,
    MappingForm,
    MappingProblem,
    MappingStatus,
    candidates,
)
from bot.settings import SettingsError, load_settings
from bot.status import ConnectionReport, StatusReport
from bot.views import mapping as views
from bot.views.status import home_view, status_blocks
from tests.fakes.blockkit import check_message, check_options, check_view, state_values

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
METADATA = views.ModalMetadata(connection_id=7, channel_id="C0GENERAL1")
DEFAULTS = load_categories()
SALES, SERVICES, LABOUR, MATERIALS, EXPENSES, PAYMENTS = DEFAULTS
MARKUP = "<!channel> & <@U0123ABCD> *Bold* Sales"


def entry(code: str | None, name: str, kind: str = "income", type_: str = "REVENUE", **kw: object) -> ChartEntry:
    return ChartEntry(id=f"id-{code or name}", code=code, name=name, kind=kind, type=type_, **kw)  # type: ignore[arg-type]


CHART = [
    entry("200", "Sales"),
    entry("205", "Online Sales", type_="SALES"),
    entry("260", "Other Revenue"),
    entry("270", "Interest Income", "other_income", "OTHERINCOME"),
    entry("310", "Cost of Goods Sold", "cost_of_sales", "DIRECTCOSTS"),
    entry("429", "General Expenses", "expense", "OVERHEADS"),
    entry("494", "Travel - International", "expense", "OVERHEADS", active=False),
    entry("090", "Business Bank Account", "bank", "BANK"),
    entry(None, "Business Savings Account", "bank", "BANK"),
    entry("610", "Accounts Receivable", "asset", "CURRENT"),
]


def form(
    fields: list[CategoryField], notice: str | None = None, organisation: str = "Acme Plumbing Ltd"
) -> MappingForm:
    return MappingForm(
        connection_id=7,
        organisation_name=organisation,
        provider_title="Xero",
        chart_refreshed_at=NOW,
        fields=tuple(fields),
        notice=notice,
    )


def field(
    category: Category, chart: list[ChartEntry], current: ChartEntry | None = None, **kw: object
) -> CategoryField:
    offered = candidates(category, chart)
    return CategoryField(
        category=category,
        options=tuple(offered) if 0 < len(offered) <= 100 else None,
        candidates=len(offered),
        current=current,
        **kw,  # type: ignore[arg-type]
    )


def element_of(view: dict, key: str) -> dict:
    [block] = [b for b in view["blocks"] if b.get("block_id") == views.block_id(key)]
    return block["element"]


def texts(element: dict) -> list[str]:
    options = list(element.get("options", []))
    for group in element.get("option_groups", []):
        options += group["options"]
    return [o["text"]["text"] for o in options]


def test_the_loading_view_is_a_small_modal_that_carries_the_connection() -> None:
    view = views.loading_view("Xero", METADATA)
    assert check_view(view) == []
    assert "submit" not in view and "Getting your chart of accounts from Xero" in str(view["blocks"])
    assert views.ModalMetadata.loads(view["private_metadata"]) == METADATA


@pytest.mark.parametrize("garbage", [None, "", "not json", '{"ch": "C1"}', '{"c": "seven"}', "[1]"])
def test_metadata_that_is_not_ours_reads_as_none(garbage: str | None) -> None:
    assert views.ModalMetadata.loads(garbage) is None


def test_one_dropdown_per_category_labelled_with_help_and_grouped_by_type() -> None:
    view = views.mapping_modal(form([field(c, CHART) for c in DEFAULTS]), METADATA)
    assert check_view(view) == []
    assert view["submit"]["text"] == "Save accounting settings"
    inputs = [b for b in view["blocks"] if b["type"] == "input"]
    assert [b["label"]["text"] for b in inputs] == [c.label for c in DEFAULTS]
    assert [b["optional"] for b in inputs] == [not c.required for c in DEFAULTS]
    assert inputs[0]["hint"]["text"] == SALES.help

    sales = element_of(view, "sales")
    assert sales["type"] == "static_select"
    assert [g["label"]["text"] for g in sales["option_groups"]] == ["Revenue", "Sales"]
    assert texts(sales) == ["200 – Sales", "260 – Other Revenue", "205 – Online Sales"]
    assert texts(element_of(view, "materials")) == ["310 – Cost of Goods Sold", "429 – General Expenses"]
    # one type only: plain options; an account without a code shows its name alone
    payments = element_of(view, "payments_received")
    assert "option_groups" not in payments
    assert texts(payments) == ["090 – Business Bank Account", "Business Savings Account"]
    assert payments["options"][1]["value"] == "id-Business Savings Account"
    assert "Travel - International" not in str(view)  # archived


def test_the_current_mapping_is_pre_filled_with_an_option_of_the_menu() -> None:
    view = views.mapping_modal(form([field(SALES, CHART, current=CHART[1])]), METADATA)
    sales = element_of(view, "sales")
    assert sales["initial_option"] in [o for g in sales["option_groups"] for o in g["options"]]
    assert sales["initial_option"]["value"] == "id-205"


def test_more_than_a_hundred_candidates_make_a_typeahead() -> None:
    many = [entry(str(5000 + i), f"Generated Revenue {5000 + i}") for i in range(101)]
    view = views.mapping_modal(form([field(SALES, many, current=many[42])]), METADATA)
    assert check_view(view) == []
    sales = element_of(view, "sales")
    assert sales["type"] == "external_select" and sales["min_query_length"] == 1
    assert "options" not in sales and sales["initial_option"]["text"]["text"] == "5042 – Generated Revenue 5042"
    [block] = [b for b in view["blocks"] if b.get("block_id") == "category_sales"]
    assert "search 101 accounts" in block["hint"]["text"]


def test_a_category_with_no_candidates_says_how_to_get_one() -> None:
    view = views.mapping_modal(form([field(PAYMENTS, CHART[:3])]), METADATA)
    assert check_view(view) == []
    [block] = [b for b in view["blocks"] if b.get("block_id") == "category_payments_received"]
    assert block["element"]["type"] == "external_select"  # no empty menu, and errors still have a field
    assert "Xero has no bank account to choose; add one in Xero, then press Refresh." in block["hint"]["text"]


def test_a_saved_account_that_went_stale_is_named_next_to_its_field() -> None:
    archived = entry("310", "Cost of Goods Sold", "cost_of_sales", "DIRECTCOSTS", active=False)
    problem = MappingProblem(MATERIALS, "archived", archived)
    view = views.mapping_modal(form([field(MATERIALS, CHART, problem=problem)]), METADATA)
    block = next(b for b in view["blocks"] if b.get("block_id") == "category_materials")
    assert "initial_option" not in block["element"]
    assert block["hint"]["text"] == (
        f":warning: 310 – Cost of Goods Sold is archived in Xero: choose another. {MATERIALS.help}"
    )


def rich_elements(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The elements of every rich text block's paragraphs."""
    return [
        element
        for block in blocks
        if block["type"] == "rich_text"
        for paragraph in block["elements"]
        for element in paragraph["elements"]
    ]


def test_text_from_the_provider_is_escaped_in_mrkdwn_and_kept_within_plain_text_limits() -> None:
    long_name = "Very " * 30 + "Long Account"
    chart = [entry("201", MARKUP), entry("202", long_name)]
    view = views.mapping_modal(
        form([field(SALES, chart)], notice="Xero said <!here>", organisation="<!channel> Traders"), METADATA
    )
    assert check_view(view) == []
    mrkdwn = str([b for b in view["blocks"] if b["type"] not in ("input", "rich_text")])
    assert "<!channel>" not in mrkdwn and "&lt;!here&gt;" in mrkdwn
    # the organisation's name, as written, in a rich text element (never parsed, so it pings nobody)
    assert {"type": "text", "text": "<!channel> Traders", "style": {"bold": True}} in rich_elements(view["blocks"])
    options = texts(element_of(view, "sales"))
    assert options[0] == f"201 – {MARKUP}"  # plain_text shows text as it is; Slack does not parse it
    assert len(options[1]) == 75 and options[1].endswith("…")


def test_forty_categories_of_a_hundred_accounts_fit_in_one_modal() -> None:
    categories = [Category(f"c{i}", f"Category {i}", ("income",), True, "x" * 150) for i in range(40)]
    chart = [entry(str(1000 + i), f"Account {i}", type_=f"T{i % 7}") for i in range(100)]
    view = views.mapping_modal(form([field(c, chart, current=chart[-1]) for c in categories]), METADATA)
    assert check_view(view) == []
    assert len(view["blocks"]) <= 100


def test_typeahead_answers_stay_within_slacks_limits() -> None:
    matches = [entry(str(5000 + i), "x" * 100, type_=("REVENUE", "SALES")[i % 2]) for i in range(150)]
    answer = views.typeahead_options(matches)
    assert check_options(answer) == []
    assert sum(len(g["options"]) for g in answer["option_groups"]) == 100
    # No match: an empty list, which Slack shows as "No results" (the fake's checker wants at least one option).
    assert views.typeahead_options([]) == {"options": []}
    assert views.typeahead_options([CHART[0]]) == {
        "options": [{"text": {"type": "plain_text", "text": "200 – Sales", "emoji": True}, "value": "id-200"}]
    }


def test_the_submitted_choices_are_read_per_category() -> None:
    view = views.mapping_modal(form([field(c, CHART) for c in DEFAULTS]), METADATA)
    values = state_values(
        view["blocks"],
        {
            "category_sales": {"account_sales": "id-205"},
            "category_payments_received": {"account_payments_received": "id-090"},
        },
    )
    choices = views.read_choices(values)
    assert choices["sales"] == "id-205" and choices["payments_received"] == "id-090"
    assert choices["services"] is None and set(choices) == {c.key for c in DEFAULTS}
    assert views.field_errors({"sales": "Choose one."}) == {"category_sales": "Choose one."}


def test_the_confirmation_lists_each_category_and_escapes_names() -> None:
    entries = [(SALES, entry("200", MARKUP)), (SERVICES, None), (PAYMENTS, entry(None, "Business Savings Account"))]
    blocks = views.confirmation_blocks(
        organisation_name="Acme & Sons", provider_title="Xero", entries=entries, user_id="U0ADMIN01", saved_at=NOW
    )
    assert check_message(blocks) == []
    text = str(blocks)
    assert "*Sales*: 200 – &lt;!channel&gt; &amp; &lt;@U0123ABCD&gt;" in text and "<!channel>" not in text
    assert "*Services*: _not mapped_" in text and "*Payments received*: Business Savings Account" in text
    assert {"type": "text", "text": "Acme & Sons", "style": {"bold": True}} in rich_elements(blocks)
    assert "<@U0ADMIN01>" in text


def test_a_long_confirmation_is_split_into_sections() -> None:
    categories = [Category(f"c{i}", "L" * 60, ("income",), True, "") for i in range(40)]
    entries = [(c, entry("1" * 10, "N" * 150)) for c in categories]
    blocks = views.confirmation_blocks(
        organisation_name="Acme", provider_title="Xero", entries=entries, user_id="U1", saved_at=NOW
    )
    assert check_message(blocks) == [] and len(blocks) > 3


def test_the_import_offer_has_both_buttons() -> None:
    blocks = views.import_offer_blocks(connection_id=7, organisation_name="<!here> Ltd", provider_title="Xero")
    assert check_message(blocks) == []
    buttons = {e["action_id"]: e for e in blocks[1]["elements"]}
    assert buttons["import_start"]["text"]["text"] == "Yes, import all my customers"
    assert buttons["import_not_now"]["text"]["text"] == "Not now"
    assert buttons["import_start"]["value"] == "7"
    assert {"type": "text", "text": "<!here> Ltd", "style": {"bold": True}} in rich_elements(blocks)


def report(mapping: MappingStatus | None) -> StatusReport:
    connection = ConnectionReport(
        provider="xero",
        provider_title="Xero",
        organisation_name="Acme Plumbing Ltd",
        connected_by="U0ADMIN01",
        connected_at=NOW,
        health="ok",
        mapping=mapping,
    )
    return StatusReport(team_id="T1", workspace_name="Acme", connection=connection, providers=(("xero", "Xero"),))


def status(problems: tuple[MappingProblem, ...] = (), saved: bool = True) -> MappingStatus:
    return MappingStatus(
        saved_by="U0ADMIN01" if saved else None,
        saved_at=NOW if saved else None,
        mapped=6 - len(problems),
        categories=6,
        problems=problems,
        chart_refreshed_at=NOW,
    )


@pytest.mark.parametrize(
    ("mapping", "expected"),
    [
        (status(saved=False, problems=(MappingProblem(SALES, "unmapped"),)), "Account codes are not mapped yet"),
        (status(), "Account codes mapped for 6 categories"),
        (
            status((MappingProblem(MATERIALS, "archived", entry("310", "Cost of <Goods>", "cost_of_sales")),)),
            "*Materials*: 310 – Cost of &lt;Goods&gt; is archived in Xero",
        ),
        (
            status((MappingProblem(SALES, "gone", entry("200", "Sales", active=False)),)),
            "*Sales*: 200 – Sales is no longer in Xero's chart of accounts",
        ),
        (
            status((MappingProblem(SALES, "wrong_kind", entry("200", "Sales", "bank", "BANK")),)),
            "*Sales*: 200 – Sales is now a bank account; Sales takes income",
        ),
        (status((MappingProblem(PAYMENTS, "unmapped"),)), "*Payments received*: not mapped yet"),
    ],
)
def test_status_and_home_say_how_the_mapping_stands(mapping: MappingStatus, expected: str) -> None:
    blocks = status_blocks(report(mapping))
    assert check_message(blocks) == []
    assert expected in str(blocks)
    if mapping.problems and mapping.started:
        assert "needs attention" in str(blocks)
    home = home_view(report(mapping))
    assert check_view(home) == [] and expected in str(home)


def test_the_default_categories_suit_a_trades_business() -> None:
    assert [c.label for c in DEFAULTS] == ["Sales", "Services", "Labour", "Materials", "Expenses", "Payments received"]
    assert SALES.kinds == ("income",) and PAYMENTS.kinds == ("bank",)
    assert MATERIALS.kinds == ("cost_of_sales", "expense")
    assert all(c.help for c in DEFAULTS)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("categories: []", "non-empty list"),
        ("- key: sales", "non-empty list"),
        ("categories: [{key: Sales, label: Sales, kinds: [income]}]", "key must be lower-case"),
        ("categories: [{key: sales, label: Sales, kinds: [incme]}]", "incme is not a kind of account"),
        ("categories: [{key: sales, label: Sales}]", "kinds must list at least one"),
        ("categories: [{key: sales, label: Sales, kinds: income, required: maybe}]", "required must be true or false"),
        ("categories: [{key: s, label: S, kinds: [bank]}, {key: s, label: T, kinds: [bank]}]", "key 's' is used twice"),
        ("categories: [{key: s, label: '" + "x" * 61 + "', kinds: [bank]}]", "label must be text of 1 to 60"),
        ("categories: [{key: s, label: x, kinds: [bank], help: '" + "x" * 151 + "'}]", "help must be text"),
        ("categories: [" + ", ".join(f"{{key: k{i}, label: x, kinds: [bank]}}" for i in range(41)) + "]", "at most 40"),
        ("categories: [unclosed", "is not valid YAML or JSON"),
    ],
)
def test_a_malformed_categories_file_is_refused_with_the_reason(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "categories.yml"
    path.write_text(content)
    with pytest.raises(CategoriesError, match=problem.replace("(", r"\(").replace("*", r"\*")):
        load_categories(path)


def test_categories_come_from_the_file_the_settings_name(tmp_path: Path) -> None:
    path = tmp_path / "categories.json"
    path.write_text(
        '{"categories": [{"key": "callouts", "label": "Call-outs", "kinds": ["income"], "required": true}]}'
    )
    settings = load_settings(
        None,
        slack_bot_token="xoxb-1",
        slack_signing_secret="s",
        encryption_key=_key(),
        account_categories_file=str(path),
    )
    assert settings.categories == (Category("callouts", "Call-outs", ("income",), True, ""),)
    assert (
        load_settings(None, slack_bot_token="xoxb-1", slack_signing_secret="s", encryption_key=_key()).categories
        == DEFAULTS
    )


def test_settings_refuse_a_categories_file_that_cannot_be_used(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as missing:
        load_settings(
            None,
            slack_bot_token="xoxb-1",
            slack_signing_secret="s",
            encryption_key=_key(),
            account_categories_file=str(tmp_path / "nope.yml"),
        )
    assert "ACCOUNT_CATEGORIES_FILE cannot be read" in missing.value.format_message()
    bad = tmp_path / "bad.yml"
    bad.write_text("categories: [{key: sales, label: Sales, kinds: [wages]}]")
    with pytest.raises(SettingsError) as malformed:
        load_settings(
            None,
            slack_bot_token="xoxb-1",
            slack_signing_secret="s",
            encryption_key=_key(),
            account_categories_file=str(bad),
        )
    assert "wages is not a kind of account" in malformed.value.format_message()


def test_parse_categories_accepts_a_single_kind_and_defaults() -> None:
    [category] = parse_categories({"categories": [{"key": "bank", "label": " Bank ", "kinds": "bank"}]})
    assert category == Category("bank", "Bank", ("bank",), False, "")


def _key() -> str:
    from storage.crypto import SecretBox

    return SecretBox.generate_key()
