"""A minimal Xero-shaped server for the benchmark: pages of contacts written out once, served as they are.

`python -m bench.static_xero DIR PORT` serves `DIR/contacts-N.json` for `GET /api.xro/2.0/Contacts?page=N`,
`DIR/accounts.json` for `/Accounts` and `DIR/taxrates.json` for `/TaxRates` (no contacts past the last page), with
any bearer token, so what the server costs (a few hundred microseconds a page) does not hide what the client costs.
Each answer goes out as soon as it is written (`TCP_NODELAY`, as uvicorn and Xero's servers send): without it the
body of a small answer waited for the client to acknowledge its headers, 40 ms a call (the chart of accounts).
"""

from __future__ import annotations

import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit


def serve(directory: Path, port: int) -> None:
    pages = {path.stem: path.read_bytes() for path in directory.glob("*.json")}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
            url = urlsplit(self.path)
            resource = url.path.rsplit("/", 1)[-1].lower()
            page = parse_qs(url.query).get("page", ["1"])[0]
            body = pages.get(f"contacts-{page}" if resource == "contacts" else resource)
            if body is None and resource == "contacts":
                body = b'{"Contacts":[]}'  # past the last page, as Xero answers
            if body is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    serve(Path(sys.argv[1]), int(sys.argv[2]))
