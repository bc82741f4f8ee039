"""A faithful local MYOB Business API (AccountRight) over real HTTP: OAuth 2 at secure.myob.com's paths (the
consent page choosing one company file, which only its administrator may allow; form-encoded token and refresh with
rotation, with or without a trailing slash), and a company file's `GeneralLedger/Account` and `Contact/Customer`
with OData paging and filters, MYOB's headers, limits and error bodies; and its sales (`tests.fakes.myob.sales`): tax
codes, service invoices and customer payments created with 201 and a Location, read back and filtered.

    clock = FakeClock()
    fake = MyobFake(clock=clock, limits=MyobLimits(per_second=8))
    client = fake.register_client(redirect_uris=["http://localhost:3000/oauth/myob/callback"])
    file_id = fake.add_company_file("Acme Plumbing Pty Ltd")
    fake.seed_customers(file_id, 2500)
    with ServerThread(fake.app) as server:
        ...

`python -m tests.fakes.myob --port N` serves a demo and prints the settings that point the bot at it. Facts it
follows: /work/shared/specs/PROVIDERS.md and the resource shapes copied in tests/specs/myob/.
"""

from __future__ import annotations

from tests.fakes.myob.demo import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, demo_fake
from tests.fakes.myob.fake import API_PREFIX, MyobFake
from tests.fakes.myob.identity import MYOB_OAUTH, SCOPE_WORDING
from tests.fakes.myob.odata import QueryError, parse_filter
from tests.fakes.myob.records import MyobLimits
from tests.fakes.myob.seed import DEFAULT_CHART
from tests.fakes.myob.state import myob_time

__all__ = [
    "API_PREFIX",
    "DEFAULT_CHART",
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "MYOB_OAUTH",
    "SCOPE_WORDING",
    "MyobFake",
    "MyobLimits",
    "QueryError",
    "demo_fake",
    "myob_time",
    "parse_filter",
]
