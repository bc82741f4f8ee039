"""The answers an OAuth2 server gives when something is wrong: RFC 6749's `{"error": ...}` bodies, redirects back
to the app carrying an error, and `Reply`, which a handler raises to answer at once."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.responses import JSONResponse, RedirectResponse, Response


class Reply(Exception):
    """Raised inside a handler (or by a bearer check) to answer at once with `response`."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def oauth_error(error: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": error}, status_code=status)


def redirect_with(redirect_uri: str, **params: str | None) -> RedirectResponse:
    """A 302 to the app's redirect URI with `params` added to its query (None ones left out)."""
    parts = urlsplit(redirect_uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + [(k, v) for k, v in params.items() if v is not None]
    return RedirectResponse(urlunsplit(parts._replace(query=urlencode(query))), status_code=302)
