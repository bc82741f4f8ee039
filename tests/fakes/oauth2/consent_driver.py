"""Driving a consent page as a browser would, for tests without one: `click_through_consent` ticks organisations
(or picks the one company file) and presses a button, `redirect_params` reads where the package sent the browser
back."""

from __future__ import annotations

from collections.abc import Iterable
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

import httpx2


class _FormReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: list[tuple[str, str]] = []
        self.choices: list[tuple[str, str, bool]] = []  # check boxes and radio buttons: name, value, checked
        self.buttons: dict[str, tuple[str, str]] = {}
        self._button: tuple[str, str] | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.action = a.get("action", "")
        elif tag == "input" and a.get("type") == "hidden":
            self.fields.append((a["name"], a.get("value", "")))
        elif tag == "input" and a.get("type") in ("checkbox", "radio"):
            self.choices.append((a["name"], a.get("value", ""), "checked" in a))
        elif tag == "button":
            self._button = (a.get("name", ""), a.get("value", ""))

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._button and data.strip():
            self.buttons[data.strip()] = self._button
            self._button = None


def click_through_consent(
    http: httpx2.Client,
    authorize_url: str,
    *,
    organisations: Iterable[str] | None = None,
    button: str = "Allow access",
) -> httpx2.Response:
    """Open the consent page, tick `organisations` (the options' values: Xero's tenant ids, MYOB's company file
    ids; default: leave the pre-checked ones) and press `button`; returns the form's answer (a 302 to the redirect
    URI, or a page)."""
    page = http.get(authorize_url)
    if page.status_code != 200:
        return page
    reader = _FormReader()
    reader.feed(page.text)
    if reader.action is None:
        raise AssertionError("the consent page has no form")
    wanted = None if organisations is None else set(organisations)
    data = list(reader.fields)
    data += [(n, v) for n, v, checked in reader.choices if (checked if wanted is None else v in wanted)]
    data.append(reader.buttons[button])
    return http.post(
        urljoin(str(page.url), reader.action),
        content=urlencode(data).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )


def redirect_params(response: httpx2.Response) -> dict[str, str]:
    """The query parameters of a redirect's Location (`code`, `state`, `error`, ...)."""
    return dict(parse_qsl(urlsplit(response.headers["location"]).query))
