"""What reading a page of contacts costs, in instructions counted by callgrind: the same count for the same code and
pages whatever else the machine is doing, where an import's seconds move by a quarter from one round to the next
(`import_bench --baseline`'s A/A run). For judging a cut of a few percent in the reading process, which paces a
first import; the import's own pace is still `import_bench`'s.

`python -m bench.instructions [--contacts N] [--pages K] [--baseline DIR]` writes the Xero fake's first pages of N
contacts (as `import_bench`'s pre-serialised server sends them), then counts, each in a process of its own under
`valgrind --tool=callgrind`:
- **reading**: what the reading process does with a page of a first import (`read_apart` with the CSV lines, after
  what it does first: `_warm`);
- **the SDK**: the reference, Xero's official SDK (xero-python) deserialising the same page into its models, as
  `get_contacts` does once the answer is in (no HTTP on either side).

Each is counted over K pages and over none (start-up and one page to warm up are in both), and the difference is
given a page; `--baseline` counts the reading of another checkout (another commit) as well. Needs valgrind
(Debian's `valgrind` package).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.import_bench import PAGE_SIZE, connected_runtime, fakes_running, write_pages

# The counted process: what it does with the pages in `directory`, pages 2 to K+1 (page 1 warms up; K = 0 for the
# count of start-up alone).
_READING = """
import sys
from pathlib import Path
from bot.imports.reading import _warm, read_apart
from providers.base import Encoded
from providers.xero.contacts import glance_contacts, read_records
directory, count = Path(sys.argv[1]), int(sys.argv[2])
bodies = [(directory / f"contacts-{n}.json").read_bytes() for n in range(1, count + 2)]
_warm(read_records)
for body in bodies:
    read_apart(Encoded(body, read_records, glance_contacts), lines=True)
"""
_SDK = """
import sys
from pathlib import Path
from xero_python.accounting import AccountingApi
from xero_python.api_client import ApiClient, Configuration
from xero_python.api_client.oauth2 import OAuth2Token
directory, count = Path(sys.argv[1]), int(sys.argv[2])
bodies = [(directory / f"contacts-{n}.json").read_text() for n in range(1, count + 2)]
client = ApiClient(Configuration(oauth2_token=OAuth2Token(client_id="bench", client_secret="bench")))
api = AccountingApi(client)
class Answer:  # what the SDK's REST client hands `deserialize`
    def __init__(self, text):
        self.text = self.data = text
for text in bodies:
    assert client.deserialize(Answer(text), "Contacts", api.get_model_finder()).contacts
"""


def counted(program: str, directory: Path, pages: int, checkout: Path | None = None) -> int:
    """Instructions callgrind counts for `program` over `pages` pages after the first (and start-up), with the code
    of `checkout` (by default this one's)."""
    env = {**os.environ, "PYTHONHASHSEED": "0"}  # the same dicts and sets, so the same count each run
    if checkout is not None:  # `python` from there finds its packages first (the installed ones are this checkout's)
        env["PYTHONPATH"] = str(checkout)
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as script:
        script.write(program)
    try:
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, script.name]
            + [str(directory), str(pages)],
            capture_output=True,
            text=True,
            check=True,
            cwd=checkout,
            env=env,
        )
    finally:
        os.unlink(script.name)
    for line in done.stderr.splitlines():
        if "Collected :" in line:
            return int(line.rsplit(":", 1)[1])
    raise RuntimeError(f"callgrind gave no count:\n{done.stderr[-2000:]}")


def per_page(program: str, directory: Path, pages: int, checkout: Path | None = None) -> int:
    return (counted(program, directory, pages, checkout) - counted(program, directory, 0, checkout)) // pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=6 * PAGE_SIZE, help="contacts the Xero fake holds")
    parser.add_argument("--pages", type=int, default=5, help="pages counted (after one to warm up)")
    parser.add_argument("--baseline", type=Path, help="also count the reading of this checkout (another commit)")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (apt-get install valgrind)")
    if args.contacts < (args.pages + 1) * PAGE_SIZE:
        sys.exit(f"--contacts must hold {args.pages + 1} pages of {PAGE_SIZE}")
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "pages"
        directory.mkdir()
        with fakes_running(args.contacts, limited=False, latency=0.0) as (xero_url, slack_url, _):
            runtime, connection_id = connected_runtime(f"sqlite:///{tmp}/pages.db", xero_url, slack_url)
            write_pages(runtime, connection_id, directory)
            runtime.close()
        first = json.loads((directory / "contacts-1.json").read_bytes())
        size = len(first["Contacts"])
        reading = per_page(_READING, directory, args.pages)
        sdk = per_page(_SDK, directory, args.pages)
        before = per_page(_READING, directory, args.pages, args.baseline.resolve()) if args.baseline else None
    print(f"Instructions a page of {size:,} contacts (callgrind, {args.pages} pages after one to warm up)")
    print("| what | instructions a page | a contact | × the SDK |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| xero-python deserialising the page | {sdk:,} | {sdk // size:,} | 1.00 |")
    print(
        f"| the reading process (read, prepare, CSV lines) | {reading:,} | {reading // size:,} | {reading / sdk:.2f} |"
    )
    if before is not None:
        print(f"| the same, baseline | {before:,} | {before // size:,} | {before / sdk:.2f} |")
        print(f"\nThis checkout's reading: {reading / before:.3f} of the baseline's instructions")


if __name__ == "__main__":
    main()
