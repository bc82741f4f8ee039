"""The Slack request boundary piece by piece: signature checking on the raw bytes, parsing, the shape check every
body passes before Bolt reads it, the values each listener parses out of a payload, and the store of requests
already acted on."""

from __future__ import annotations

import gzip
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_bolt import BoltRequest
from slack_bolt.logger.messages import warning_unhandled_request
from slack_bolt.request import payload_utils
from sqlalchemy import select

from bot.customers.lists import Scope
from bot.slack import envelope, payload, replays
from bot.slack.listeners.connecting import organisation_choice
from bot.slack.listeners.customers import page_value
from bot.slack.listeners.disconnecting import confirmed_connection
from bot.slack.listeners.events import removed_from
from bot.slack.listeners.importing import NOT_OURS, offered_for, run_of
from bot.views.audit import audit_blocks
from bot.views.mapping import UNREADABLE, ModalMetadata, read_choices
from bot.views.text import mention
from bot.web import slack_requests
from bot.web.slack_requests import MAX_FORM_FIELDS, Refused, parse, verify
from storage.db import Database
from storage.models import HandledRequest
from tests.fakes.slack.delivery import sign

SECRET = "signing-secret-for-tests"
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"

COMMAND: dict[str, Any] = {
    "token": "x",
    "team_id": "T0ACME001",
    "team_domain": "acme",
    "channel_id": "C0GENERAL1",
    "user_id": "U0ADMIN01",
    "command": "/accounts",
    "text": "status",
    "response_url": "https://hooks.slack.com/commands/T0ACME001/1/abc",
    "trigger_id": "1.2.abc",
}
CLICK: dict[str, Any] = {
    "type": "block_actions",
    "user": {"id": "U0ADMIN01", "team_id": "T0ACME001"},
    "team": {"id": "T0ACME001", "domain": "acme"},
    "container": {"type": "message", "message_ts": "1.2", "channel_id": "C0GENERAL1"},
    "channel": {"id": "C0GENERAL1"},
    "trigger_id": "1.2.abc",
    "response_url": "https://hooks.slack.com/actions/T0ACME001/1/abc",
    "actions": [{"action_id": "import_start", "block_id": "b", "value": "7", "action_ts": "1700000000.000100"}],
}
EVENT: dict[str, Any] = {
    "type": "event_callback",
    "team_id": "T0ACME001",
    "event_id": "Ev01",
    "event": {"type": "app_home_opened", "user": "U0ADMIN01", "tab": "home"},
    "authorizations": [{"team_id": "T0ACME001", "user_id": "U0BOT", "is_bot": True}],
}
SUBMISSION: dict[str, Any] = {
    "type": "view_submission",
    "user": {"id": "U0ADMIN01"},
    "team": {"id": "T0ACME001"},
    "trigger_id": "1.2.abc",
    "view": {
        "id": "V01",
        "type": "modal",
        "callback_id": "mapping_save",
        "hash": "1.a",
        "private_metadata": "",
        "state": {"values": {}},
    },
}
VALID = [COMMAND, CLICK, EVENT, SUBMISSION]


def form(fields: dict[str, Any]) -> bytes:
    return urlencode(fields).encode()


def interaction(body: dict[str, Any]) -> bytes:
    return form({"payload": json.dumps(body)})


def with_(body: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**body, **changes}


# --- Signatures -----------------------------------------------------------------------------------------------------


def test_a_signed_body_passes() -> None:
    now = int(time.time())
    verify(
        {"x-slack-request-timestamp": str(now), "x-slack-signature": sign(b"a=1", secret=SECRET, timestamp=now)},
        b"a=1",
        secret=SECRET,
        now=now,
    )


@pytest.mark.parametrize("timestamp", ["abc", "", "1.7e9", " 1700000000", "١٧٠٠٠٠٠٠٠٠", "-1", "9" * 40])
def test_a_timestamp_that_is_not_a_number_is_401(timestamp: str) -> None:
    with pytest.raises(Refused) as refused:
        verify(
            {"x-slack-request-timestamp": timestamp, "x-slack-signature": "v0=" + "0" * 64}, b"", secret=SECRET, now=0
        )
    assert refused.value.status == 401


@pytest.mark.parametrize("age", [-400, 301, 10**6])
def test_a_timestamp_outside_five_minutes_is_401(age: int) -> None:
    now = 1_700_000_000
    headers = {
        "x-slack-request-timestamp": str(now - age),
        "x-slack-signature": sign(b"", secret=SECRET, timestamp=now),
    }
    with pytest.raises(Refused, match="five minutes"):
        verify(headers, b"", secret=SECRET, now=now)


@pytest.mark.parametrize("signature", ["", "v0=", "v1=" + "0" * 64, "v0=" + "g" * 64, "v0=" + "0" * 64])
def test_a_bad_signature_is_401(signature: str) -> None:
    now = int(time.time())
    with pytest.raises(Refused) as refused:
        verify({"x-slack-request-timestamp": str(now), "x-slack-signature": signature}, b"x", secret=SECRET, now=now)
    assert refused.value.status == 401


@settings(max_examples=200)
@given(body=st.binary(max_size=200), tampered=st.binary(min_size=1, max_size=5))
def test_a_signature_holds_only_for_its_own_bytes(body: bytes, tampered: bytes) -> None:
    now = int(time.time())
    headers = {"x-slack-request-timestamp": str(now), "x-slack-signature": sign(body, secret=SECRET, timestamp=now)}
    verify(headers, body, secret=SECRET, now=now)
    with pytest.raises(Refused):
        verify(headers, body + tampered, secret=SECRET, now=now)


# --- Parsing --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "encoding"),
    [
        (b"\xff\xfe\x00payload", FORM, ""),  # invalid UTF-8
        (b"[1, 2, 3]", JSON, ""),  # a JSON list
        (b'"a string"', JSON, ""),  # a JSON string
        (b"null", JSON, ""),
        (b"{not json", JSON, ""),
        (b"payload=%7Bnot+json", FORM, ""),  # payload= that is not JSON
        (b"payload=null", FORM, ""),
        (b"payload=%5B%5D", FORM, ""),
        (json.dumps(COMMAND).encode(), FORM, ""),  # a form body sent as JSON
        (form(COMMAND), JSON, ""),  # a JSON body sent as a form
        (gzip.compress(form(COMMAND)), FORM, "gzip"),
        (form(COMMAND), FORM, "gzip"),
        (form(COMMAND), "text/plain", ""),
        (b"", FORM, ""),
        (b"a=1&a=2", FORM, ""),
        (b"payload=%7B%7D&command=%2Faccounts", FORM, ""),
        (b"%ff=1", FORM, ""),  # a percent-escape that is not UTF-8
        (b"[" * 100_000 + b"]" * 100_000, JSON, ""),  # nested past the recursion limit
        (interaction(with_(CLICK, actions=[])), FORM, ""),
        (json.dumps(with_(EVENT, event=None)).encode(), JSON, ""),
        (json.dumps(with_(EVENT, authorizations=[])).encode(), JSON, ""),
        (form({k: v for k, v in COMMAND.items() if k != "team_id"}), FORM, ""),
        (form({k: v for k, v in COMMAND.items() if k != "user_id"}), FORM, ""),
        (form({k: v for k, v in COMMAND.items() if k != "response_url"}), FORM, ""),
        (form(with_(COMMAND, user_id="<!channel>")), FORM, ""),
        (form(with_(COMMAND, team_id="%_%")), FORM, ""),
        (form(with_(COMMAND, text="a\x00b")), FORM, ""),
        (json.dumps(with_(EVENT, team_id="T\ud800")).encode(), JSON, ""),  # a lone surrogate, escaped in JSON
    ],
)
def test_what_does_not_parse_is_400(body: bytes, content_type: str, encoding: str) -> None:
    with pytest.raises(Refused) as refused:
        parse(body, content_type=content_type, content_encoding=encoding)
    assert refused.value.status == 400


@pytest.mark.parametrize("body", VALID)
def test_slack_s_own_shapes_parse(body: dict[str, Any]) -> None:
    if "command" in body:
        raw, content_type = form(body), FORM
    elif body["type"] == "event_callback":
        raw, content_type = json.dumps(body).encode(), JSON
    else:
        raw, content_type = interaction(body), FORM
    text, parsed = parse(raw, content_type=content_type + "; charset=utf-8")
    assert parsed == body and text.encode() == raw


def form_as_parse_qsl_reads_it(text: str) -> dict[str, str] | None:
    """What the form reader answered when it was `parse_qsl` (None: refused)."""
    try:
        pairs = parse_qsl(
            text, keep_blank_values=True, strict_parsing=bool(text), errors="strict", max_num_fields=MAX_FORM_FIELDS
        )
    except ValueError:
        return None
    form = dict(pairs)
    return form if len(form) == len(pairs) else None


FORM_PIECES = ["a", "b", "=", "&", "+", "%", "%2", "%20", "%2B", "%26", "%3D", "%ff", "%C3%A9", "é", ";"]


@settings(max_examples=500)
@given(
    text=st.lists(
        st.one_of(
            st.sampled_from(FORM_PIECES),
            st.text(max_size=3),
        ),
        max_size=30,
    ).map("".join)
)
def test_a_form_is_read_as_parse_qsl_reads_it(text: str) -> None:
    if text.startswith("{"):
        return
    try:
        read: dict[str, str] | None = slack_requests._form(text)
    except Refused as refused:
        assert refused.status == 400
        read = None
    assert read == form_as_parse_qsl_reads_it(text)


@pytest.mark.parametrize("fields", [MAX_FORM_FIELDS, MAX_FORM_FIELDS + 1])
def test_a_form_of_too_many_fields_is_refused(fields: int) -> None:
    text = "&".join(f"f{i}=v" for i in range(fields))
    if fields > MAX_FORM_FIELDS:
        with pytest.raises(Refused):
            slack_requests._form(text)
    else:
        assert len(slack_requests._form(text)) == fields


def test_a_command_that_mentions_payload_is_still_a_command() -> None:
    """Bolt reads any form containing the word "payload" as an interaction; we do not."""
    _, parsed = parse(form(with_(COMMAND, text="customers payload")), content_type=FORM)
    assert parsed["command"] == "/accounts" and parsed["text"] == "customers payload"


@settings(max_examples=300)
@given(raw=st.binary(max_size=300), content_type=st.sampled_from([FORM, JSON, "", "text/plain"]))
def test_any_bytes_parse_or_are_400(raw: bytes, content_type: str) -> None:
    try:
        _, parsed = parse(raw, content_type=content_type)
    except Refused as refused:
        assert refused.status == 400
    else:
        assert envelope.problem(parsed) is None


# --- The shape every body passes before Bolt reads it ---------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**25), max_value=10**25)
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.sampled_from(["T0ACME001", "U0ADMIN01", "C0GENERAL1", "1.2", "", "²", "99999999999999999999", "<!channel>"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)
KEYS = [
    "type", "team", "user", "enterprise", "channel", "event", "actions", "view", "authorizations", "team_id",
    "user_id", "response_url", "response_urls", "trigger_id", "container", "message", "event_id", "command",
    "is_ext_shared_channel", "value", "action_id", "state", "private_metadata", "id", "callback_id",
]  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    """One of Slack's own shapes with a few fields, at any depth, replaced by any JSON value or removed."""
    body = json.loads(json.dumps(draw(st.sampled_from(VALID))))
    for _ in range(draw(st.integers(1, 4))):
        place = body
        while isinstance(place, dict) and place and draw(st.booleans()):
            inner = place[draw(st.sampled_from(sorted(place)))]
            if not isinstance(inner, (dict, list)) or not inner:
                break
            place = inner if isinstance(inner, dict) else inner[0]
        if not isinstance(place, dict):
            continue
        key = draw(st.sampled_from(sorted(place) + KEYS))
        if draw(st.booleans()) and key in place:
            del place[key]
        else:
            place[key] = draw(JSON_VALUES)
    return body


def bolt_reads(body: dict[str, Any]) -> None:
    """What Bolt does with a body before any listener: its context, then every matcher's look at it."""
    request = BoltRequest(body=body, mode="socket_mode")
    request.context.to_copyable()
    if envelope.kind(body) == "command" or envelope.kind(body) in envelope.INTERACTIONS:
        # Every listener's `Asker` needs the workspace and the person where Bolt found them.
        assert request.context.team_id and request.context.user_id, (request.context.team_id, request.context.user_id)
    for check in (
        payload_utils.to_action,
        payload_utils.to_event,
        payload_utils.to_command,
        payload_utils.to_options,
        payload_utils.to_view,
        payload_utils.to_shortcut,
        payload_utils.to_message,
        payload_utils.to_step,
        payload_utils.is_workflow_step_edit,
        payload_utils.is_assistant_event,
        payload_utils.is_function,
    ):
        check(body)
    warning_unhandled_request(request)  # what Bolt logs of a request no listener took (an event we do not handle)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(body=mutated() | JSON_VALUES)
def test_what_passes_the_shape_check_bolt_can_read(body: Any) -> None:
    problem = envelope.problem(body)  # never raises, whatever the body
    if problem is None:
        bolt_reads(body)
        replays.digest(body)
        envelope.response_urls(body)


@pytest.mark.parametrize("body", VALID)
def test_slack_s_own_shapes_pass(body: dict[str, Any]) -> None:
    assert envelope.problem(body) is None
    bolt_reads(body)


def test_a_view_of_null_is_refused() -> None:
    """Found by hypothesis through the bot (a signed event with `"view": null` beside an event no listener takes):
    Bolt's log line for a request it did not route reads the view's type, and answered 500. Slack sends no null
    view; an object or nothing."""
    event = {
        "type": "event_callback",
        "team_id": "T0ACME001",
        "api_app_id": "A0APP",
        "event": {"type": "member_joined_channel", "user": "U0STAFF01"},
        "event_id": "Ev0TEST01",
        "event_time": 1_700_000_000,
    }
    assert envelope.problem({**event, "view": None}) == "view is not an object"
    assert envelope.problem(with_(CLICK, view=None)) == "view is not an object"
    assert envelope.problem(event) is None
    bolt_reads(event)


@pytest.mark.parametrize(
    "change",
    [
        {"team": None, "team_id": None},  # Bolt takes a `team_id` key holding null over the user's team
        {"team": None, "authorizations": [{"enterprise_id": "E0GRID", "team_id": None}]},
        {"team": None, "user": {"id": "U0ADMIN01"}},
    ],
)
def test_a_click_bolt_would_find_no_workspace_in_is_refused(change: dict[str, Any]) -> None:
    """Found by hypothesis in a signed view submission: the shape check let it through and the listener failed on
    Bolt's empty team. A click from an organisation-wide context still names its workspace through the user."""
    assert envelope.problem(with_(CLICK, **change)) is not None
    assert envelope.problem(with_(CLICK, team=None)) is None
    bolt_reads(with_(CLICK, team=None))


def test_an_enterprise_grid_uninstall_names_its_workspace() -> None:
    body = {
        "type": "event_callback",
        "enterprise_id": "E0GRID",
        "event_id": "Ev02",
        "event": {"type": "app_uninstalled"},
        "authorizations": [{"enterprise_id": "E0GRID", "team_id": "T0ACME001", "is_enterprise_install": False}],
    }
    assert envelope.problem(body) is None
    assert removed_from(body) == (["T0ACME001"], "E0GRID")
    organisation_wide = with_(body, authorizations=[{"enterprise_id": "E0GRID", "team_id": None}])
    assert removed_from(organisation_wide) == ([], "E0GRID")


# --- What each listener takes from a payload ------------------------------------------------------------------------

HOSTILE_VALUES: list[Any] = [
    None, "", "²", "٣", "0", "-1", " 7", "7 ", "1e3", "99999999999999999999", "2147483648", {"a": 1}, [7], 7, 7.0,
    True, "a\x00b", "\ud800", "x" * 10_000,
]  # fmt: skip


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_row_ids_from_buttons_are_ours_or_none(value: Any) -> None:
    assert payload.row_id(value) is None
    assert run_of({"value": value}) is None
    assert confirmed_connection({"value": value}) is None


def test_row_ids_from_buttons() -> None:
    assert payload.row_id("7") == 7 and payload.row_id("2147483647") == 2**31 - 1
    assert run_of({"value": "12"}) == 12 and confirmed_connection({"value": "3:1700000000000000"}) is not None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12:abc-def", (12, "abc-def")),
        ("99999999999999999999:x", None),
        ("²:x", None),
        ("12:", None),
        (":x", None),
        ({"a": 1}, None),
        (None, None),
        ("1\x00:x", None),
    ],
)
def test_organisation_choices(value: Any, expected: Any) -> None:
    assert organisation_choice({"value": value}) == expected
    assert organisation_choice({"selected_option": {"value": value}}) == expected
    assert organisation_choice({"selected_option": value}) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0:", (0, None, Scope.CONNECTED)),
        ("3:acme", (3, "acme", Scope.CONNECTED)),
        ("e2:acme", (2, "acme", Scope.EARLIER)),
        ("e:", None),
        ("²:", None),
        ("99999999999999999999:", None),
        (None, None),
        ([], None),
    ],
)
def test_customer_pages(value: Any, expected: Any) -> None:
    assert page_value({"value": value}) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("home", None), ("contacts", None), (None, None), ("5", 5), ("²", NOT_OURS), ({"x": 1}, NOT_OURS)],
)
def test_what_an_import_button_was_offered_for(value: Any, expected: Any) -> None:
    assert offered_for({"value": value}) == expected


@pytest.mark.parametrize(
    "metadata",
    [
        None, 7, "", "[]", "null", '{"c": "7"}', '{"c": 99999999999999999999}', '{"c": 0}', '{"c": true}',
        '{"c": 1, "ch": 5}', '{"c": 1, "ch": "<!channel>"}', '{"c": 1, "h": "yes"}', "[" * 10_000,
    ],
)  # fmt: skip
def test_modal_metadata_is_ours_or_none(metadata: Any) -> None:
    assert ModalMetadata.loads(metadata) is None


def test_modal_metadata_round_trips() -> None:
    metadata = ModalMetadata(4, "C0GENERAL1", True)
    assert ModalMetadata.loads(metadata.dumps()) == metadata


def test_chosen_accounts_of_another_shape_are_unreadable() -> None:
    values: dict[str, Any] = {
        "category_a": {"account_a": {"selected_option": {"value": "acc-1"}}},
        "category_b": {"account_b": {"selected_option": None}},
        "category_c": {"account_c": {"selected_option": {"value": {"x": 1}}}},
        "category_d": {"account_d": {"selected_option": "acc-1"}},
        "category_e": {"account_e": {"selected_option": {"value": "x" * 500}}},
        "category_f": {"account_f": 7},
    }
    assert read_choices(values) == {"a": "acc-1", "b": None, "c": UNREADABLE, "d": UNREADABLE, "e": UNREADABLE}


@pytest.mark.parametrize("actor", ["<!channel>", "U1> <!here", "&lt;"])
def test_an_actor_that_is_no_user_id_is_shown_as_text(actor: str) -> None:
    from datetime import UTC, datetime

    from storage.models import AuditEvent

    event = AuditEvent(actor_user_id=actor, action="refused", detail={}, created_at=datetime.now(UTC))
    shown = str(audit_blocks([event]))
    assert "<!channel" not in shown and "<!here" not in shown and "<@" not in shown
    assert mention("U0ADMIN01") == "<@U0ADMIN01>"


# --- What identifies a request, for acting on it once ---------------------------------------------------------------


def test_a_click_is_identified_by_who_clicked_what_when() -> None:
    again = json.loads(json.dumps(CLICK))
    assert replays.digest(CLICK) == replays.digest(again)
    later = with_(CLICK, actions=[{**CLICK["actions"][0], "action_ts": "1700000001.000100"}])
    assert replays.digest(later) != replays.digest(CLICK)
    someone_else = with_(CLICK, user={"id": "U0STAFF01"})
    assert replays.digest(someone_else) != replays.digest(CLICK)


def test_an_event_is_identified_by_its_event_id_whatever_the_retry() -> None:
    assert replays.digest(EVENT) == replays.digest(with_(EVENT, event_time=1))
    assert replays.digest(EVENT) != replays.digest(with_(EVENT, event_id="Ev02"))


def test_typeahead_is_not_remembered() -> None:
    typing = {"type": "block_suggestion", "user": {"id": "U1"}, "team": {"id": "T1"}, "action_id": "a", "value": "x"}
    assert envelope.problem(typing) is None and replays.digest(typing) is None


def test_a_request_is_acted_on_once_across_processes_until_it_is_forgotten(db: Database) -> None:
    """Two processes (two stores on one database) see the same handled requests; past the window, rows are pruned
    and a request is new again (Slack refuses its replay by then anyway)."""
    now = [datetime(2026, 12, 4, 9, 0, tzinfo=UTC)]
    here, there = (replays.HandledRequests(db, lambda: now[0]) for _ in range(2))
    key = replays.digest(CLICK)
    assert key is not None
    assert here.first_time(key) is True
    assert there.first_time(key) is False and here.first_time(key) is False
    now[0] += replays.REMEMBER_FOR + timedelta(seconds=1)
    assert there.first_time("another") is True  # prunes what is past its time
    with db.session() as s:
        assert s.scalars(select(HandledRequest.digest)).all() == ["another"]
    assert here.first_time(key) is True
