"""`./dev demo` (`python -m tests.demo`): what it starts, how it points the bot at each package's fake, and that
Ctrl-C leaves nothing behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from providers import registry
from tests.demo.packages import PACKAGES, DemoPackage
from tests.demo.stack import ROOT, Demo, _child_env
from tests.fakes.oauth2.consent_driver import click_through_consent
from tests.fakes.slack import say

PRINTED = """xero fake listening on http://127.0.0.1:8002
Point the bot at it with these settings (in .env or the environment):
XERO_AUTHORIZE_URL=http://127.0.0.1:8002/identity/connect/authorize
XERO_CLIENT_ID=0D5C
  XERO_CLIENT_SECRET=s3cret
MYOB_API_URL=http://elsewhere
XERO_NOTE=two words
Redirect URIs: http://127.0.0.1:3000/oauth/xero/callback""".splitlines()


def test_a_package_gives_the_bot_the_settings_its_fake_printed_under_its_prefix() -> None:
    assert DemoPackage("xero", "tests.fakes.xero").settings(PRINTED) == {
        "XERO_AUTHORIZE_URL": "http://127.0.0.1:8002/identity/connect/authorize",
        "XERO_CLIENT_ID": "0D5C",
        "XERO_CLIENT_SECRET": "s3cret",
    }


def test_every_demo_package_is_one_the_bot_knows_with_a_fake_to_run() -> None:
    for package in PACKAGES:
        assert package.name in registry.titles()
        assert (ROOT / Path(*package.module.split("."))).joinpath("__main__.py").is_file()


def test_the_bot_and_the_fakes_take_no_setting_from_the_persons_own_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("SLACK_CLIENT_ID", "XERO_CLIENT_SECRET", "DATABASE_URL", "ENCRYPTION_KEY", "PUBLIC_URL", "PORT"):
        monkeypatch.setenv(name, "from-the-person")
    monkeypatch.setenv("LANG", "C.UTF-8")
    env = _child_env()
    assert not [name for name, value in env.items() if value == "from-the-person"]
    assert env["LANG"] == "C.UTF-8"
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(ROOT)


def test_the_demo_starts_whole_says_where_and_stops_on_ctrl_c_leaving_nothing() -> None:
    demo = subprocess.Popen(
        [sys.executable, "-m", "tests.demo"],
        cwd=ROOT,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert demo.stdout is not None
        printed = []
        for line in demo.stdout:
            printed.append(line)
            if "Ctrl-C stops everything" in line:
                break
        shown = "".join(printed)
        page = re.search(r"Open (http://127\.0\.0\.1:\d+) in your browser", shown)
        bot = re.search(r"The bot: (http://127\.0\.0\.1:\d+) \(its log: (.+)\)", shown)
        xero = re.search(r"xero on (http://127\.0\.0\.1:\d+)", shown)
        assert page and bot and xero, shown
        assert f"-m tests.fakes.slack.say --url {page[1]}" in shown

        answer = httpx2.get(page[1])
        assert answer.status_code == 200 and "accounts-bot playground" in answer.text
        assert "script-src 'self'" in answer.headers["content-security-policy"]
        assert httpx2.get(f"{page[1]}/fake").json()["bot"]["socket_mode"] is True
        assert httpx2.get(f"{bot[1]}/healthz").status_code == 200
        assert httpx2.get(f"{xero[1]}/connections").status_code == 401  # the package fake, asking for a log-in
        log = Path(bot[2])
        assert log.is_file()

        demo.send_signal(signal.SIGINT)
        rest = demo.communicate(timeout=30)[0]
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    assert demo.returncode == 0, rest
    assert "Stopping the demo..." in rest and "Traceback" not in rest
    for url in (page[1], bot[1], xero[1]):
        with pytest.raises(httpx2.TransportError):
            httpx2.get(url, timeout=2)
    assert not log.parent.exists()  # the database and the log went with it


@pytest.fixture(scope="module")
def demo() -> Iterator[Demo]:
    running = Demo().start()
    yield running
    running.stop()


def allow_access(login_url: str) -> str:
    """What a person does on the package fake's consent page: allow access to the organisations offered, and land
    on the bot's callback page."""
    with httpx2.Client(timeout=30) as browser:
        answer = click_through_consent(browser, login_url)
        assert answer.status_code == 302, answer.text
        return browser.get(answer.headers["location"]).text


def test_say_drives_the_demo_bot_through_connect_and_map_by_option_text(
    demo: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's `say` session, against the bot the demo runs."""
    url = ["--url", demo.url, "--quiet", "0.5"]
    assert say.main([*url, "/accounts connect"]) == 0
    capsys.readouterr()
    assert say.main([*url, "--click", "connect_provider:xero"]) == 0
    login = re.search(r"\[Log in to Xero\] \(primary\) -> (\S+)", capsys.readouterr().out)
    assert login, "no log-in link"
    assert "Choose an organisation in Slack" in allow_access(login[1])

    # The organisation picker was posted after the log-in, in the browser: only --ephemeral shows it.
    demo.slack.wait_for(lambda: len(demo.slack.ephemerals(user_id="U0DEMOOWNER")) >= 2)
    assert say.main([*url, "--user", "member", "--ephemeral"]) == 0
    assert capsys.readouterr().out == "Only U0DEMOMEMBR sees:\nNothing.\n"
    assert say.main([*url, "--ephemeral", "--channel", "general"]) == 0
    picker = capsys.readouterr().out
    assert "Which one should accounts-bot connect to?" in picker
    click = re.search(r"\[Connect Demo Company \(NZ\)\]\S*  --click (\S+)", picker)
    assert click, picker
    assert say.main([*url, "--click", click[1]]) == 0
    capsys.readouterr()

    assert say.main([*url, "/accounts map"]) == 0
    modal = capsys.readouterr().out
    assert "Sales: [Choose an account v] options: Revenue: 200 – Sales" in modal  # the label, the group, the text
    fields = {
        "account_sales": "200 - sales",
        "account_materials": "310 – Cost of Goods Sold",
        "account_expenses": "429 - General Expenses",
        "account_payments_received": "090 - Business Bank Account",
    }
    assert say.main([*url, "--submit", *[f"--field={k}={v}" for k, v in fields.items()]]) == 0
    assert "Account codes saved" in capsys.readouterr().out


@pytest.mark.parametrize("module", ["tests.fakes.slack", "tests.fakes.xero", "tests.demo"])
def test_without_the_test_extra_a_fake_or_the_demo_says_what_to_install(module: str) -> None:
    """`./dev run` installs only the bot; the fakes need websockets (and python-multipart) from the test extra."""
    hide = "import runpy, sys; sys.modules['websockets'] = None; runpy.run_module(sys.argv.pop(1), run_name='__main__')"
    ran = subprocess.run(
        [sys.executable, "-c", hide, module],
        cwd=ROOT,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 2, ran.stderr
    assert "needs websockets: install the test extra: .venv/bin/pip install -e '.[test]'" in ran.stderr
    assert "Traceback" not in ran.stderr
