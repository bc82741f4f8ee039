"""A large import reads its pages in a process of its own (`bot.imports.reading`): what it writes is what reading
them here writes, a page the process cannot read is read here, and the process goes when the bot stops. End to
end over the Xero fake's HTTP, on both databases."""

from __future__ import annotations

import gc
import json
import logging
import multiprocessing
import os
import pickle
import random
import select
import signal
import subprocess
import sys
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from multiprocessing.context import SpawnProcess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from pytest_mock import MockerFixture

from bot.customers.rows import Prepared, prepare_page, prepare_records
from bot.imports.memory import COLLECTOR_THRESHOLDS
from bot.imports.reading import (
    PageReader,
    ReadPage,
    pack,
    read_apart,
    read_encoded,
    roomy_pipes,
    take_back_while_waiting,
    unpack,
)
from bot.imports.runner import ImportRunner
from bot.imports.runs import ImportPolicy
from bot.runtime import build_providers
from bot.server import BotServer
from bot.slack.import_reports import slack_reporters
from providers.base import Encoded, Page, Skipped, Unavailable
from providers.xero.contacts import glance_contacts, read_records
from tests.conftest import RunningBot, bot_settings
from tests.fakes.slack import SlackFake
from tests.fakes.xero import XeroFake
from tests.fakes.xero.dates import ms_date
from tests.fakes.xero.seed import _generated_contact
from tests.flows import command, connected, xero_settings
from tests.imports import customer_count, expected_customers, finished, quick
from tests.test_import_hostile_records import REPAIRABLE, UNUSABLE, seed_hostile, stored
from tests.test_import_new_lines import _from_database as csv_read_back


def ready_reader(bot: RunningBot) -> tuple[PageReader, multiprocessing.Process]:
    """The bot's reading process, started and ready."""
    reader, before = bot.server.imports.reader, set(multiprocessing.active_children())
    reader.start(read_records)
    bot.slack.wait_for(reader.ready, timeout=60, message="the reading process did not start")
    [process] = set(multiprocessing.active_children()) - before
    return reader, process  # type: ignore[return-value]


def test_pages_read_apart_are_written_as_pages_read_here(connect_bot: RunningBot, xero: XeroFake) -> None:
    """Every shape of contact (the careful reading of a page not of Xero's documented shape included) read in the
    reading process; imported again with every page read here, nothing is new and nothing changed: the rows, keys
    and digests are the same both ways."""
    bot = connect_bot
    _, tenant = connected(bot, xero)
    good = seed_hostile(xero, tenant)
    quick(bot, page_size=4, read_apart_from=1)
    reader, _ = ready_reader(bot)

    command(bot, "/accounts import", "Starting the import")
    first = finished(bot)

    assert first.status == "succeeded", first.error
    # every page but the one with a lone surrogate, JSON that the quick look at a page's numbers refuses: that page
    # is read here, the careful way
    assert reader.handed == first.pages - 1 > 5
    assert first.count("unreadable") == len(UNUSABLE)
    assert set(stored(bot).values()) == set(good) | {name for _, name in REPAIRABLE if name is not None}

    handed = reader.handed
    quick(bot, page_size=4, read_apart_from=None)
    command(bot, "/accounts import", "Starting the import")
    again = finished(bot, timeout=60)

    assert again.id != first.id and again.status == "succeeded", again.error
    assert reader.handed == handed  # read here this time
    assert again.count("new") == again.count("updated") == 0
    assert again.count("unchanged") == first.count("new")


def test_a_reading_process_that_stopped_is_not_waited_for(connect_bot: RunningBot, xero: XeroFake) -> None:
    """The process killed before the import (out of memory, say): the pages are read here and the run succeeds with
    every customer; the process is started again for the pages after."""
    bot = connect_bot
    _, tenant = connected(bot, xero)
    xero.seed_contacts(tenant, 60)
    quick(bot, page_size=5, read_apart_from=1)
    reader, process = ready_reader(bot)
    os.kill(process.pid or 0, signal.SIGKILL)
    process.join(timeout=30)

    command(bot, "/accounts import", "Starting the import")
    run = finished(bot)

    assert run.status == "succeeded", run.error
    assert customer_count(bot) == len(expected_customers(xero, tenant)) == run.count("new")
    assert not process.is_alive()
    bot.slack.wait_for(reader.ready, timeout=60, message="the reading process was not started again")


def test_a_reading_process_started_with_the_bot_takes_every_page(connect_bot: RunningBot, xero: XeroFake) -> None:
    """Started ahead of any import (`ImportRunner.start_reader`, as the bot's own server does once up), the process
    is up before the first page comes, with the package's reader imported (not as the first page waits for it), and
    the first import hands it every page: the first too, which a process the import itself starts cannot take (it is
    read here while the process starts)."""
    bot = connect_bot
    _, tenant = connected(bot, xero)
    xero.seed_contacts(tenant, 30)
    quick(bot, page_size=5, read_apart_from=1)
    runner, before = bot.server.imports, set(multiprocessing.active_children())

    assert runner.start_reader()
    bot.slack.wait_for(runner.reader.ready, timeout=60, message="the reading process did not start")
    assert len(set(multiprocessing.active_children()) - before) == 1
    assert runner.reader.warmed is not None and read_records.__module__ in runner.reader.warmed.modules

    command(bot, "/accounts import", "Starting the import")
    run = finished(bot)

    assert run.status == "succeeded", run.error
    assert customer_count(bot) == len(expected_customers(xero, tenant)) == run.count("new") > 0
    assert runner.reader.handed == run.pages == 6


@pytest.mark.parametrize("owns_process", [True, False])
def test_the_bots_own_process_starts_its_reading_process_once_up(
    slack: SlackFake, database_url: str, xero: XeroFake, owns_process: bool
) -> None:
    """`accounts-bot run` (the server owning its process) starts the reading process once it serves, and it goes
    with the bot; a bot hosted in a process not its own (the tests') leaves it to the first run that needs it."""
    before = set(multiprocessing.active_children())
    server = BotServer(
        bot_settings(slack, database_url, mode="http", **xero_settings(xero)), owns_process=owns_process
    ).start()
    try:
        if owns_process:
            slack.wait_for(server.imports.reader.ready, timeout=60, message="the reading process did not start")
            assert len(set(multiprocessing.active_children()) - before) == 1
        else:
            assert not server.imports.reader.ready() and set(multiprocessing.active_children()) == before
    finally:
        server.stop()
    assert set(multiprocessing.active_children()) <= before


def test_a_reading_process_the_system_will_not_start_now_is_tried_again_later(
    slack: SlackFake, database_url: str, xero: XeroFake, mocker: MockerFixture
) -> None:
    """Out of processes as the bot starts (the system refuses a new one: EAGAIN): the bot serves all the same, with
    no process left half made; a large import's pages are read here meanwhile, and the next start (the next large
    run's) makes the process."""
    spawn = mocker.patch.object(
        SpawnProcess, "start", side_effect=BlockingIOError(11, "Resource temporarily unavailable")
    )
    before = set(multiprocessing.active_children())
    server = BotServer(bot_settings(slack, database_url, mode="http", **xero_settings(xero))).start()
    try:
        reader = server.imports.reader
        assert spawn.called and not reader.ready() and set(multiprocessing.active_children()) == before
        assert reader.submit(Encoded(b"{}", read_records)) is None  # read here
        mocker.stopall()
        assert server.imports.start_reader()
        slack.wait_for(reader.ready, timeout=60, message="the reading process was not started again")
    finally:
        server.stop()


def test_no_reading_process_is_started_ahead_where_no_import_would_use_it(
    connect_bot: RunningBot, slack: SlackFake, database_url: str
) -> None:
    """Nothing is started ahead where every configured package's pages come read (MYOB's and QuickBooks'), nor where
    the bot reads every page itself (`read_apart_from` None); the process is then started by a run that needs it."""
    bot = connect_bot
    runtime, before = bot.server.runtime, set(multiprocessing.active_children())
    credentials = {
        f"{name}_client_{part}": f"{name}-{part}" for name in ("myob", "quickbooks") for part in ("id", "secret")
    }
    read_as_they_come = build_providers(bot_settings(slack, database_url, mode="http", **credentials))
    assert sorted(read_as_they_come) == ["myob", "quickbooks"] and runtime.providers["xero"].page_reader
    for runner in (
        ImportRunner(replace(runtime, providers=read_as_they_come), reporters=slack_reporters(runtime)),
        ImportRunner(runtime, reporters=slack_reporters(runtime), policy=ImportPolicy(read_apart_from=None)),
    ):
        try:
            assert not runner.start_reader()
            assert not runner.reader.ready() and set(multiprocessing.active_children()) == before
        finally:
            runner.shutdown()


def test_the_reading_process_stops_with_the_bot(connect_bot: RunningBot, xero: XeroFake) -> None:
    bot = connect_bot
    _, tenant = connected(bot, xero)
    xero.seed_contacts(tenant, 30)
    quick(bot, page_size=5, read_apart_from=1)
    reader, process = ready_reader(bot)
    command(bot, "/accounts import", "Starting the import")
    assert finished(bot).status == "succeeded" and reader.handed > 0

    bot.server.imports.shutdown()

    assert not process.is_alive() and process not in multiprocessing.active_children()
    assert not reader.ready() and reader.submit(Encoded(b"{}", read_records)) is None


def test_the_reading_process_collects_its_garbage_as_seldom_as_the_bots_server() -> None:
    """A page's records are made and dropped in one go: the reading process settles its collector once up
    (`settle_collector`), as the bot's server does its own; this process's collector is left as it was."""
    before = gc.get_threshold()
    reader = PageReader()
    try:
        assert reader.warmed is None
        reader.start(read_records)
        future = reader.submit(
            Encoded(json.dumps({"Contacts": [{"ContactID": "c-1", "Name": "Ann"}]}).encode(), read_records)
        )
        assert future is not None and unpack(future.result(timeout=60))[0][0].name == "Ann"
        assert reader.warmed is not None
        assert reader.warmed.thresholds == COLLECTOR_THRESHOLDS != (700, 10, 10)  # not a new process's own
    finally:
        reader.close()
    assert gc.get_threshold() == before


def _minor_faults(pid: int) -> int:
    """The pages the system has mapped and zeroed for process `pid` so far (Linux: `minflt` in /proc/PID/stat)."""
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[7])


def test_the_reading_process_keeps_what_a_page_freed_for_the_next() -> None:
    """A page's body and records are megabytes made and freed together. The reading process keeps what one page freed
    for the next (`keep_freed_memory`), where glibc would hand much of it back and the system map and zero fresh
    pages for every page: some 800 page faults a page of 1,000 contacts, against 20 or so kept."""
    rng = random.Random(12)
    contacts = [_generated_contact(rng, seq, f"c-{seq}") for seq in range(1, 1001)]
    page = [{**contact, "UpdatedDateUTC": ms_date(1.7e9 + seq)} for seq, contact in enumerate(contacts)]
    body = json.dumps({"Contacts": page})
    assert len(body) > 10**6  # as a page of Xero's 1,000 contacts
    reader, before = PageReader(), set(multiprocessing.active_children())

    def read() -> None:
        future = reader.submit(Encoded(body.encode(), read_records), lines="all")
        assert future is not None and len(unpack(future.result(timeout=60))[0]) == 1000

    try:
        reader.start(read_records)
        read()  # the heap grows to what a page takes
        [process] = set(multiprocessing.active_children()) - before
        assert process.pid is not None
        faults = _minor_faults(process.pid)
        for _ in range(5):
            read()
        assert (_minor_faults(process.pid) - faults) / 5 < 100
    finally:
        reader.close()


def test_a_page_the_reading_process_cannot_read_says_why_here() -> None:
    """A body that is not a page of contacts: the process's error is not passed on as it came (a pickled copy);
    the page is not taken as read (so no transaction waits on it), and is read again here, which raises the
    package's own error in its own words."""
    reader = PageReader()
    try:
        reader.start(read_records)
        encoded = Encoded(b"<html>Service Unavailable</html>", read_records)
        future = reader.submit(encoded)
        assert future is not None and isinstance(future.exception(timeout=60), Unavailable)
        page = ReadPage(Page(customers=[], cursor=None, encoded=encoded), future=future)

        assert not page.done()
        with pytest.raises(Unavailable, match="Xero answered with something we could not read") as raised:
            page.records()
        assert raised.value.status == 200  # the provider's own error, not the process's copy of it
    finally:
        reader.close()


def test_a_page_read_apart_is_the_page_read_here() -> None:
    """Through the process and here, one page's prepared records and skipped contacts are equal."""
    body = (
        b'{"pagination":{"page":1,"pageSize":3,"pageCount":1,"itemCount":3},"Contacts":['
        b'{"ContactID":"c-1","Name":" Acme Plumbing Ltd ","EmailAddress":"Ops@Acme.example","ContactStatus":"ACTIVE",'
        b'"Phones":[{"PhoneType":"MOBILE","PhoneNumber":"021 555 0100","PhoneCountryCode":"64"}],'
        b'"Addresses":[{"AddressType":"STREET","AddressLine1":"1 Queen St","City":"Auckland"}],'
        b'"UpdatedDateUTC":"/Date(1731969140853+0000)/","IsCustomer":true},'
        b'{"ContactID":"c-2","Name":"Archived Ltd","ContactStatus":"ARCHIVED"},'
        b'{"Name":"No Id Ltd"}]}'
    )
    reader = PageReader()
    try:
        reader.start(read_records)
        future = reader.submit(Encoded(body, read_records), lines="all_but_suppliers")
        assert future is not None
        packed = future.result(timeout=60)
    finally:
        reader.close()
    assert isinstance(packed[0], bytes)  # MessagePack, not a pickle of named tuples
    apart = unpack(packed)
    customers, skipped = read_records(body)
    prepared, refused = prepare_page(customers)
    assert apart == prepare_records(customers, skipped, lines="all_but_suppliers")
    assert all(type(p) is Prepared for p in apart[0])
    # each that becomes a customer with its line of the CSV of new customers, made there; the archived one without
    assert [p._replace(line=None) for p in apart[0]] == prepared and prepared[0].line is None
    assert (
        apart[0][0].line
        == b'Acme Plumbing Ltd,,,Acme Plumbing Ltd,Ops@Acme.example,\'+64 021 555 0100,"1 Queen St, Auckland",,yes\r\n'
    )
    assert apart[0][1].line is None  # archived: no customer under any filter
    assert apart[0][0].updated_at is not None and apart[0][0].updated_at.tzinfo is UTC
    assert [p.id for p in prepared] == ["c-1", "c-2"] and [s.name for s in apart[1]] == ["No Id Ltd"]
    assert prepared[0].name == "Acme Plumbing Ltd" and prepared[0].email_key == "ops@acme.example"


def _xero_page(contacts: int) -> bytes:
    """A page of `contacts` of Xero's contacts, each with its four phone slots and two address slots filled as a
    busy business's are."""
    phones = [
        {"PhoneType": kind, "PhoneNumber": f"555 {n:04d}", "PhoneAreaCode": "9", "PhoneCountryCode": "64"}
        for n, kind in enumerate(("DEFAULT", "DDI", "MOBILE", "FAX"))
    ]
    return json.dumps(
        {
            "pagination": {"page": 1, "pageSize": contacts, "pageCount": 1, "itemCount": contacts},
            "Contacts": [
                {
                    "ContactID": f"00000000-0000-0000-0000-{n:012d}",
                    "ContactStatus": "ACTIVE",
                    "Name": f"Customer {n} Plumbing & Gas Ltd",
                    "FirstName": "Ada",
                    "LastName": f"Lovelace {n}",
                    "EmailAddress": f"accounts{n}@customer{n}.example",
                    "Phones": phones,
                    "Addresses": [
                        {
                            "AddressType": kind,
                            "AddressLine1": f"{n} Queen Street",
                            "City": "Auckland",
                            "PostalCode": "1010",
                            "Country": "New Zealand",
                        }
                        for kind in ("POBOX", "STREET")
                    ],
                    "UpdatedDateUTC": "/Date(1731969140853+0000)/",
                    "IsCustomer": True,
                    "IsSupplier": False,
                }
                for n in range(contacts)
            ],
        }
    ).encode()


def test_the_pipes_to_and_from_the_reading_process_hold_a_page() -> None:
    """The reading process's answer for a page of 1,000 contacts goes back in one write, so the process goes on
    with the next page without waiting for this process to take it (a pipe holds 64 KiB to start with: an answer
    went in some ten writes, each waiting for this process's thread that takes answers, itself waiting its turn
    for the interpreter's lock); the page goes to it in as few writes as the system allows. Read through them, the
    page is what reading it here gives."""
    body = _xero_page(1_000)
    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    try:
        to_it, back = roomy_pipes(pool)
        allowed = int(Path("/proc/sys/fs/pipe-max-size").read_text())
        answer = pickle.dumps(pool.submit(read_apart, Encoded(body, read_records, glance_contacts), "all").result(60))
    finally:
        pool.shutdown()
    assert len(answer) > 0.4 * len(body)  # some 0.6 MB
    assert back >= len(answer) + 4096 and to_it >= min(len(body), allowed)  # the message's header besides
    assert unpack(pickle.loads(answer)) == read_encoded(Encoded(body, read_records, glance_contacts), lines="all")


_TEXT = st.text(st.characters(codec=None))  # lone surrogates too: no UTF-8 holds them
_MAYBE = st.none() | _TEXT
_PREPARED = st.builds(
    Prepared,
    id=_TEXT,
    fields=st.tuples(_TEXT, _MAYBE, _MAYBE, _MAYBE, _MAYBE, _TEXT, _TEXT, _MAYBE, st.booleans()),
    digest=_TEXT,
    email_key=_MAYBE,
    name_key=_MAYBE,
    active=st.booleans(),
    is_customer=st.none() | st.booleans(),
    is_supplier=st.none() | st.booleans(),
    updated_at=st.none() | st.datetimes(timezones=st.just(UTC)) | st.datetimes(),
    merged_into=_MAYBE,
    erase_personal_data=st.booleans(),
    removed=st.booleans(),
    source=_MAYBE,
)


def _encodable(prepared: list[Prepared]) -> bool:
    """Whether every text of the records is valid Unicode (UTF-8 can carry it)."""
    texts = [v for p in prepared for v in (*p, *p.fields) if isinstance(v, str)]
    try:
        "".join(texts).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_AS_FROM_XERO = Prepared(
    id="c-1",
    fields=("Acme Ltd", None, None, None, None, "[]", "[]", None, True),
    digest="0" * 32,
    email_key=None,
    name_key="acme",
    active=True,
    is_customer=True,
    is_supplier=False,
    updated_at=datetime(2026, 1, 22, 10, 57, 37, 970000, tzinfo=UTC),
    merged_into=None,
    erase_personal_data=False,
    removed=False,
)


@example([_AS_FROM_XERO, _AS_FROM_XERO._replace(id="c-2", fields=("Bad \ud800 Ltd", *_AS_FROM_XERO.fields[1:]))])
@example([_AS_FROM_XERO])
@given(st.lists(_PREPARED, max_size=5))
def test_prepared_records_come_back_from_packing_as_they_went(prepared: list[Prepared]) -> None:
    """Whatever a page's records hold (text no UTF-8 can carry goes as a pickle), they come back equal, each a
    `Prepared` whose times are in UTC as they went (or as naive, where they were)."""
    skipped = [Skipped(id=None, name="No Id Ltd", reason="it has no id")]
    packed = pack((prepared, skipped))
    assert isinstance(packed[0], bytes) == _encodable(prepared)
    back, skipped_back = unpack(packed)
    assert back == prepared and skipped_back == skipped
    assert all(type(p) is Prepared for p in back)
    assert [p.updated_at.tzinfo if p.updated_at else None for p in back] == [
        p.updated_at.tzinfo if p.updated_at else None for p in prepared
    ]


def test_the_reading_process_leaves_the_packages_client_out() -> None:
    """The reading process imports the contacts reader alone, not Xero's client with its HTTP, OAuth and settings
    stack (pydantic's and cryptography's compiled cores among them), which took 0.25 s and 23 MiB of its start
    while an import's first pages waited. Seen from outside: the libraries the process has mapped."""
    before = set(multiprocessing.active_children())
    reader = PageReader()
    try:
        reader.start(read_records)
        future = reader.submit(Encoded(b'{"Contacts":[{"ContactID":"c-1","Name":"Acme Ltd"}]}', read_records))
        assert future is not None and [p.id for p in unpack(future.result(timeout=60))[0]] == ["c-1"]
        [process] = set(multiprocessing.active_children()) - before
        mapped = Path(f"/proc/{process.pid}/maps").read_text()
    finally:
        reader.close()
    assert "msgspec" in mapped  # the reader's own decoder is there ...
    assert "pydantic_core" not in mapped and "cryptography" not in mapped  # ... the client's stack is not


def test_a_page_whose_reading_was_cancelled_is_read_here() -> None:
    """The reader closed while a page was on its way (the bot stopping): the page is not taken as read, and is then
    read here, whole."""
    body = (
        b'{"pagination":{"pageCount":1,"itemCount":1},"Contacts":'
        b'[{"ContactID":"c-1","Name":"Acme Ltd","ContactStatus":"ACTIVE"}]}'
    )
    cancelled: Future[Any] = Future()
    assert cancelled.cancel()
    page = ReadPage(Page(customers=[], cursor=None, encoded=Encoded(body, read_records)), future=cancelled)

    assert not page.done()
    prepared, skipped, left, judged = page.records()
    assert [p.id for p in prepared] == ["c-1"] and skipped == left == [] and not judged and page.done()


_PARENT = """
import multiprocessing, threading
from bot.imports.reading import PageReader
from providers.base import Encoded
from providers.xero.contacts import glance_contacts, read_records
if __name__ == "__main__":
    reader = PageReader()
    reader.start(read_records)
    reader.submit(Encoded(b"{}", read_records)).exception(timeout=60)  # the process is up: it answered a page
    print(*[c.pid for c in multiprocessing.active_children()], flush=True)
    threading.Event().wait()  # until the test kills this process
"""


def test_the_reading_process_ends_when_the_bot_is_killed(tmp_path: Path) -> None:
    """SIGKILL gives the bot no time to stop its reading process: the process sees it gone and ends by itself."""
    script = tmp_path / "parent.py"
    script.write_text(_PARENT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path.cwd()), os.environ.get("PYTHONPATH")]))}
    with subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env) as parent:
        try:
            assert parent.stdout is not None
            [child] = [int(pid) for pid in parent.stdout.readline().split()]
            ended = os.pidfd_open(child)  # readable once the process has ended (a grandchild: not ours to wait for)
        finally:
            parent.kill()
            parent.wait(timeout=30)
    try:
        readable, _, _ = select.select([ended], [], [], 30)
    finally:
        os.close(ended)
    assert readable, "the reading process outlived the bot"


def test_the_reading_process_imports_neither_the_database_nor_the_http_client() -> None:
    """What the reading process imports (its own module and the package's page reader) is what it costs to start,
    the pages before it is up read here meanwhile: the database layer and the HTTP client (SQLAlchemy, httpx2 and
    tenacity: 0.05-0.1 s of a start of 0.1-0.2 s) stay in the importing process."""
    program = (
        "import sys, bot.imports.reading, providers.xero.contacts; "
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'sqlalchemy', 'httpx2', 'httpcore', 'tenacity', 'storage', 'slack_bolt', 'slack_sdk'} "
        "and m != 'storage' and not m.startswith('storage.json_columns'))))"
    )
    found = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True).stdout.split()
    assert found == []


def test_pages_the_reading_process_has_not_started_are_read_here_while_it_is_behind(
    connect_bot: RunningBot, xero: XeroFake, caplog: pytest.LogCaptureFixture
) -> None:
    """The reading process busy as a first import starts: the import, waiting for its first page, reads the pages
    queued behind it that the process has not started (`take_back_while_waiting`), with their CSV lines, and writes
    what it would have written: every customer, and the CSV of new customers from the lines gathered, byte for byte
    the CSV read back from the database."""
    bot = connect_bot
    _, tenant = connected(bot, xero)
    xero.seed_contacts(tenant, 300)
    quick(bot, page_size=20, read_apart_from=1, pages_ahead=4)
    reader, _ = ready_reader(bot)
    busy = reader._submit(time.sleep, 2)  # what the process does when the first pages come
    caplog.set_level(logging.DEBUG, logger="bot.slack.import_reports")

    command(bot, "/accounts import", "Starting the import")
    run = finished(bot)

    assert busy is not None and busy.done()
    assert run.status == "succeeded", run.error
    assert reader.handed == run.pages and 0 < reader.taken_back < run.pages
    assert customer_count(bot) == len(expected_customers(xero, tenant)) == run.count("new")
    [upload] = bot.slack.uploaded_files
    assert upload.content is not None
    with bot.db.session() as s:
        expected = csv_read_back(s, run.workspace_id, run.id, unreadable=bool(run.count("unreadable")))
    assert upload.content.decode() == expected
    assert "its CSV sent from the lines gathered" in caplog.text


def test_a_page_taken_back_is_read_as_the_reading_process_reads_it() -> None:
    """Pages the process has not started are cancelled there and read here while the page waited for is on its way
    to the process (not taken back): each the same prepared records, sources and CSV lines too, as the process gives
    for it."""
    bodies = [
        b'{"pagination":{"pageCount":4,"itemCount":8},"Contacts":['
        + b",".join(
            b'{"ContactID":"c-%d-%d","Name":"Acme %d-%d Ltd","EmailAddress":"a%d@example.com","ContactStatus":"ACTIVE",'
            b'"Addresses":[{"AddressType":"STREET","AddressLine1":"%d Queen St","City":"Auckland"}]}'
            % (page, n, page, n, n, n)
            for n in range(2)
        )
        + b"]}"
        for page in range(4)
    ]
    encoded = [Encoded(body, read_records, glance_contacts) for body in bodies]
    reader = PageReader()
    try:
        reader.start(read_records)
        up = reader._submit(time.sleep, 0)
        assert up is not None and up.result(timeout=60) is None
        busy = reader._submit(time.sleep, 1.5)  # running, and the first page sent to the process behind it
        pages = [
            ReadPage(
                Page(customers=[], cursor=None, encoded=e),
                future=reader.submit(e, lines="all"),
                whole=True,
                lines="all",  # a page taken back is read here with its lines, as the process would
            )
            for e in encoded
        ]
        # The pool hands the process one call beside the one running (CPython's `EXTRA_QUEUED_CALLS`): the first
        # page, and the second too where the process took its busy call off the queue before the pages came (a
        # loaded machine: seen once in CI). What is still in the pool's queue is taken back.
        assert take_back_while_waiting(pages[0], lambda: pages[1:]) in (2, 3)
        assert busy is not None and busy.done() and pages[0].done()
        again = [reader.submit(e, lines="all") for e in encoded]
        apart = [unpack(future.result(timeout=60)) for future in again if future is not None]
    finally:
        reader.close()
    read = [page.records() for page in pages]
    assert [(r.prepared, r.skipped) for r in read] == apart and len(apart) == 4
    assert all(p.source and p.line for r in read for p in r.prepared)
    assert not ReadPage(pages[0].page, ([], [])).take_back()  # read already: nothing to take back
