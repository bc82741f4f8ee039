"""What a page of a first import costs each of its two processes, in instructions counted by callgrind: the same
count, within 0.1 %, for the same code whatever else the machine is doing, where an import's seconds move by a quarter
from one round to the next (`import_bench --baseline`'s A/A run). For judging a cut of a few percent in either
process, both busy most of a first import; the import's own pace is still `import_bench`'s.

`python -m bench.instructions [--contacts N] [--pages K] [--baseline DIR]` writes the Xero fake's first pages of N
contacts (as `import_bench`'s pre-serialised server sends them), then counts, each in a process of its own under
`valgrind --tool=callgrind` with the counting on only around the pages:
- **reading**: what the reading process does with a page of a first import (`read_apart` with the CSV lines, after
  what it does first: `_warm`);
- **writing**: what the importing thread does with the page once read, on SQLite (`apply_prepared` in a
  transaction of its own, the run's new customers' CSV lines gathered, after unpacking it; the bot's heap settled
  as its server leaves it);
- **the SDK**: the reference, Xero's official SDK (xero-python) deserialising the same page into its models, as
  `get_contacts` does once the answer is in (no HTTP on any side).

Each is counted over K + 1 pages and over the first alone (its first calls' costs), and the difference is given a
page; `--baseline` counts reading and writing with another checkout's code as well. Needs valgrind (Debian's
`valgrind` package).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.import_bench import PAGE_SIZE, connected_runtime, fakes_running, write_pages

# Each counted program reads `sys.argv[1]`'s pages 1 to `sys.argv[2]`, and counts from `count()` on.
_PROLOGUE = """
import os, subprocess, sys
from pathlib import Path
directory, pages = Path(sys.argv[1]), int(sys.argv[2])
bodies = [(directory / f"contacts-{n}.json").read_bytes() for n in range(1, pages + 1)]
def count():
    subprocess.run(["callgrind_control", "--instr=on", str(os.getpid())], check=True, capture_output=True)
"""
READING = """
from bot.customers.rows import DEFAULT_CUSTOMER_FILTER
from bot.imports.reading import _warm, read_apart
from providers.base import Encoded
from providers.xero.contacts import glance_contacts, read_records
_warm(read_records)
count()
for body in bodies:
    read_apart(Encoded(body, read_records, glance_contacts), lines=DEFAULT_CUSTOMER_FILTER)  # a run's default
"""
WRITING = """
import tempfile
from datetime import UTC, datetime
from cryptography.fernet import Fernet
from bot.customers.csv_lines import NewCustomers
from bot.customers.matching import apply_prepared
from bot.customers.rows import DEFAULT_CUSTOMER_FILTER
from bot.imports.reading import read_apart, unpack
from bot.server import settle_heap
from providers.base import Encoded
from providers.xero.contacts import glance_contacts, read_records
from storage.crypto import SecretBox
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Connection, ImportRun, Workspace
packed = [read_apart(Encoded(body, read_records, glance_contacts), lines=DEFAULT_CUSTOMER_FILTER) for body in bodies]
db = Database(f"sqlite:///{tempfile.mkdtemp()}/writes.db", SecretBox(Fernet.generate_key().decode()))
upgrade(db.engine)
with db.session() as s:
    workspace = Workspace(team_id="T0COUNTED")
    s.add(workspace)
    s.flush()
    connection = Connection(workspace_id=workspace.id, provider="xero", organisation_id="o", organisation_name="O")
    s.add(connection)
    s.flush()
    run = ImportRun(workspace_id=workspace.id, connection_id=connection.id, trigger="bench", status="running")
    s.add(run)
    s.flush()
    where = {"workspace_id": workspace.id, "connection_id": connection.id, "run_id": run.id}
now, new = datetime(2026, 12, 6, 6, 0, tzinfo=UTC), NewCustomers()
settle_heap()
count()
for page in packed:
    with db.session() as s:
        records, _ = unpack(page)
        apply_prepared(
            s, **where, records=records, customer_filter=DEFAULT_CUSTOMER_FILTER, now=now, look_up=(), new=new
        )
    new.committed()
"""
SDK = """
from xero_python.accounting import AccountingApi
from xero_python.api_client import ApiClient, Configuration
from xero_python.api_client.oauth2 import OAuth2Token
client = ApiClient(Configuration(oauth2_token=OAuth2Token(client_id="bench", client_secret="bench")))
api = AccountingApi(client)
class Answer:  # what the SDK's REST client hands `deserialize`
    def __init__(self, text):
        self.text = self.data = text
texts = [body.decode() for body in bodies]
count()
for text in texts:
    assert client.deserialize(Answer(text), "Contacts", api.get_model_finder()).contacts
"""


def counted(program: str, directory: Path, pages: int, checkout: Path | None = None) -> int:
    """Instructions callgrind counts for `program` over `pages` pages, with the code of `checkout` (by default this
    one's)."""
    env = {**os.environ, "PYTHONHASHSEED": "0"}  # the same dicts and sets, so the same count each run
    if checkout is not None:  # `python` from there finds its packages first (the installed ones are this checkout's)
        env["PYTHONPATH"] = str(checkout)
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as script:
        script.write(_PROLOGUE + program)
    try:
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--callgrind-out-file=/dev/null"]
            + [sys.executable, script.name, str(directory), str(pages)],
            capture_output=True,
            text=True,
            check=False,
            cwd=checkout,
            env=env,
        )
    finally:
        os.unlink(script.name)
    for line in done.stderr.splitlines():
        if "Collected :" in line and done.returncode == 0:
            return int(line.rsplit(":", 1)[1])
    raise RuntimeError(f"no count for the program (exit {done.returncode}):\n{done.stderr[-3000:]}")


def per_page(programs: list[tuple[str, Path | None]], directory: Path, pages: int) -> list[int]:
    """A page's instructions for each program (with the code of its checkout: `counted`): `pages` pages after the
    first, less the first alone. The programs run under callgrind as many at once as the machine has cores: a count
    is the program's own, whatever runs beside it, and one at a time the ten of a `--baseline` run took two minutes,
    four and more on a busy machine (the suite runs this bench beside its other tests)."""
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        runs = [
            (
                pool.submit(counted, program, directory, pages + 1, checkout),
                pool.submit(counted, program, directory, 1, checkout),
            )
            for program, checkout in programs
        ]
        return [(many.result() - first.result()) // pages for many, first in runs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=6 * PAGE_SIZE, help="contacts the Xero fake holds")
    parser.add_argument("--pages", type=int, default=5, help="pages counted (after one to warm up)")
    parser.add_argument("--baseline", type=Path, help="also count the code of this checkout (another commit)")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (apt-get install valgrind)")
    if args.contacts < (args.pages + 1) * PAGE_SIZE:
        sys.exit(f"--contacts must hold {args.pages + 1} pages of {PAGE_SIZE}")
    baseline = args.baseline.resolve() if args.baseline else None
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "pages"
        directory.mkdir()
        with fakes_running(args.contacts, limited=False, latency=0.0) as (xero_url, slack_url, _):
            runtime, connection_id = connected_runtime(f"sqlite:///{tmp}/pages.db", xero_url, slack_url)
            write_pages(runtime, connection_id, directory)
            runtime.close()
        programs = [(SDK, None), (READING, None), (WRITING, None)]
        programs += [(READING, baseline), (WRITING, baseline)] if baseline else []
        sdk, reading, writing, *before = per_page(programs, directory, args.pages)
    rows = [
        ("reading (the reading process)", reading, before[0] if before else None),
        ("writing (the importing thread)", writing, before[1] if before else None),
    ]
    print(f"Instructions a page of {PAGE_SIZE:,} contacts (callgrind, {args.pages} pages after one to warm up)")
    print("| what | instructions a page | × the SDK's | baseline's | ours / baseline's |")
    print("| --- | ---: | ---: | ---: | ---: |")
    print(f"| xero-python deserialising the page | {sdk:,} | 1.00 | | |")
    for what, ours, before in rows:
        against = f"{before:,} | {ours / before:.3f}" if before else " | "
        print(f"| {what} | {ours:,} | {ours / sdk:.2f} | {against} |")


if __name__ == "__main__":
    main()
