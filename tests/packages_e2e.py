"""Every accounting package end to end: the `package` fixture serves each package's fake (its driver from
`tests.providers.packages`, ids "xero", ...) over HTTP on a clock starting now, and `package_bot` is the whole
bot in HTTP mode pointed at it with our app registered there. A flow test taking `package` runs once per package.

conftest makes the fixtures available everywhere and parametrises `package` (`parametrise_packages`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RunningBot
from tests.fakes.oauth2 import FakeClock
from tests.fakes.server import ServerThread
from tests.providers.packages import PACKAGES, PackageDriver

CONTRACT_SUITE = Path(__file__).parent / "providers"

# Our app as registered at every package's fake.
CLIENT_ID, CLIENT_SECRET = "ACMEXEROCLIENT0000000000000000001", "acme-xero-client-secret-value"


@contextmanager
def served(driver: PackageDriver) -> Iterator[PackageDriver]:
    """The driver's fake served on 127.0.0.1 while the block runs (`driver.url`)."""
    with ServerThread(driver.app) as server:
        driver.url = server.url
        yield driver


def start_with(start_bot: Any, package: PackageDriver, mode: str = "http", **extra: Any) -> RunningBot:
    """Start the bot (`conftest.start_bot`) pointed at the package's fake, and register our app there with the
    bot's redirect URI."""
    bot: RunningBot = start_bot(mode, **package.bot_settings(client_id=CLIENT_ID, client_secret=CLIENT_SECRET), **extra)
    package.register_client(
        redirect_uris=[bot.settings.redirect_uri(package.name)], client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    return bot


def parametrise_packages(metafunc: pytest.Metafunc) -> None:
    """Run a test taking `package` once per package (`pytest_generate_tests` in conftest calls this); a test marked
    `several_organisations` runs only for the packages whose one consent may connect several organisations, and one
    marked `package_has("invoicing", ...)` only for those whose driver has each named capability."""
    if "package" not in metafunc.fixturenames or CONTRACT_SUITE in metafunc.definition.path.parents:
        return  # the contract suite parametrises its own `package` (with the wire)
    several = metafunc.definition.get_closest_marker("several_organisations") is not None
    needs = [name for marker in metafunc.definition.iter_markers("package_has") for name in marker.args]
    drivers = [d for d in PACKAGES if (d.chooses_several or not several) and all(getattr(d, n) for n in needs)]
    metafunc.parametrize("package", drivers, ids=[d.name for d in drivers], indirect=True)


@pytest.fixture
def package(request: pytest.FixtureRequest) -> Iterator[PackageDriver]:
    """A package's fake served over HTTP; its clock starts at the real now, as the bot's does."""
    driver_class: type[PackageDriver] = request.param
    with served(driver_class(FakeClock(time.time()))) as driver:
        yield driver


@pytest.fixture
def package_bot(start_bot: Any, package: PackageDriver) -> RunningBot:
    """The bot in HTTP mode with the package's settings pointing at its fake; nothing connected yet."""
    return start_with(start_bot, package)
