"""Benchmark: how fast Slack's requests are acknowledged, the bot against bare Bolt apps, in one run.

    python -m bench.ack_bench                    # 3 rounds, 50 connections, 5 s counted (+1 s warm-up) each
    python -m bench.ack_bench --rounds 5 --seconds 8 --json ack.json
    git archive HEAD~1 | tar -x -C /tmp/before && python -m bench.ack_bench --baseline /tmp/before

Each round loads, one after another, with the same closed-loop generator (`bench.ack_load`, 50 keep-alive
connections, each sending the next signed `/accounts` command as soon as the last was answered): a server that only
answers 200 (the generator's own floor), a bare Bolt AsyncApp and a bare sync Bolt App (dispatched through
Starlette's thread pool) that only `ack()`, then the bot's `/accounts help` and `/accounts status`. Every contender
runs in a process of its own; the Slack fake (Web API, response URLs: what `respond()` posts to) in another. Each
request carries a new trigger id and a response URL the fake handed out, and `status` is checked to have given
its answer (counted in its acknowledgements and among the posts the fake accepted). Reported: p50, p99,
requests/s, the server's CPU per request, and p99 against the bare AsyncApp's of the same round; medians over
rounds. Needs the `test` extra (the fakes) and `bench` (aiohttp, for
Bolt's AsyncApp).
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import os
import secrets
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlencode

from bench.ack_contenders import BOT_TOKEN, CHANNEL, SECRET, TEAM, USER, serve
from bench.ack_load import LoadResult, run_load
from tests.fakes.server import free_port
from tests.fakes.slack.delivery import sign

CONTENDERS = (  # (name, server kind, command text)
    ("floor (generator + server only)", "floor", "help"),
    ("bare AsyncApp, ack()", "bare-async", "help"),
    ("bare sync App, ack()", "bare-sync", "help"),
    ("bot: /accounts help", "bot", "help"),
    ("bot: /accounts status", "bot", "status"),
)
REFERENCE = "bare AsyncApp, ack()"
USES_PER_URL = 5  # Slack's (and the fake's) limit on one response URL
STATUS_ANSWER = b"Accounting connection status"  # the text of status's answer, in its acknowledgement or posted


@dataclass
class Measurement:
    round: int
    contender: str
    requests: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    per_second: float
    cpu_ms_per_request: float
    statuses: dict[int, int]
    load_before: float
    sent: int = 0  # requests sent, the warm-up's included
    responses_posted: int | None = None  # status: answers the Slack fake accepted on response URLs
    answers_in_ack: int | None = None  # status: acknowledgements that carried the answer


def serve_slack(pipe: Any) -> None:
    """Child process: the Slack fake, handing out response URLs when asked, until the parent hangs up."""
    from tests.fakes.slack import SlackFake

    slack = SlackFake(rate_limits=False)
    server = slack.serve().start()
    slack.add_workspace(TEAM, "Bench", bot_token=BOT_TOKEN)
    slack.add_user(TEAM, USER, "ada", is_admin=True)
    slack.add_channel(TEAM, CHANNEL, "general")
    pipe.send(server.url)
    while True:
        try:
            what, n = pipe.recv()
        except EOFError:
            return
        if what == "issue":
            with slack._changed:
                pipe.send([slack._issue_response_url(TEAM, CHANNEL, USER) for _ in range(n)])
        else:
            pipe.send(sum(1 for r in slack.responses if r.status == 200))


def command_builder(port: int, text: str, response_urls: list[str]) -> Any:
    """Signed `/accounts <text>` requests, each with a new trigger id and the next use of a response URL."""
    urls = itertools.cycle(itertools.chain.from_iterable(itertools.repeat(u, USES_PER_URL) for u in response_urls))
    counter = itertools.count()
    salt = secrets.token_hex(8)

    def build() -> bytes:
        body = urlencode(
            {
                "token": "bench",
                "team_id": TEAM,
                "team_domain": "bench",
                "channel_id": CHANNEL,
                "channel_name": "general",
                "user_id": USER,
                "user_name": "ada",
                "command": "/accounts",
                "text": text,
                "api_app_id": "A0BENCH001",
                "is_enterprise_install": "false",
                "response_url": next(urls),
                "trigger_id": f"{next(counter)}.{salt}.bench",
            }
        ).encode()
        timestamp = int(time.time())
        head = (
            f"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\nX-Slack-Request-Timestamp: {timestamp}\r\n"
            f"X-Slack-Signature: {sign(body, secret=SECRET, timestamp=timestamp)}\r\n\r\n"
        )
        return head.encode() + body

    return build


def cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start(context: Any, kind: str, slack_url: str, source: str | None = None) -> tuple[Any, int]:
    port = free_port()
    ours, theirs = context.Pipe()
    process = context.Process(target=serve, args=(kind, port, slack_url, theirs, source), daemon=True)
    process.start()
    if not ours.poll(60):
        process.terminate()
        raise RuntimeError(f"{kind} did not start")
    ours.recv()
    return process, port


def measure(
    slack: Any, round_: int, name: str, process: Any, port: int, text: str, args: argparse.Namespace
) -> Measurement:
    expected = int(4000 * (args.seconds + args.warmup))  # more than any contender answers here
    slack.send(("issue", expected // USES_PER_URL + 1))
    urls = slack.recv()
    slack.send(("responses", 0))
    posted_before = slack.recv()
    load_before = os.getloadavg()[0]
    cpu_before = cpu_seconds(process.pid)
    total = LoadResult()
    build = command_builder(port, text, urls)

    def counted() -> bytes:
        total.latencies.append(0.0)
        return build()

    result = run_load(
        "127.0.0.1",
        port,
        counted,
        connections=args.connections,
        seconds=args.seconds,
        warmup=args.warmup,
        check=(lambda body: STATUS_ANSWER in body) if text == "status" else None,
    )
    cpu = cpu_seconds(process.pid) - cpu_before
    sent = len(total.latencies) - args.connections  # each connection built one more request than it sent
    responses = None
    if text == "status":
        time.sleep(1)  # the answers posted after the last acknowledgements reach the fake
        slack.send(("responses", 0))
        responses = slack.recv() - posted_before
    return Measurement(
        round=round_,
        contender=name,
        requests=len(result.latencies),
        p50_ms=result.percentile(50),
        p99_ms=result.percentile(99),
        max_ms=result.percentile(100),
        per_second=result.throughput,
        cpu_ms_per_request=cpu * 1000 / max(1, sent),
        statuses=result.statuses,
        load_before=load_before,
        sent=sent,
        responses_posted=responses,
        answers_in_ack=result.checked if text == "status" else None,
    )


def contenders(baseline: str | None) -> tuple[tuple[str, str, str], ...]:
    if baseline is None:
        return CONTENDERS
    return CONTENDERS + (
        ("baseline bot: /accounts help", "baseline", "help"),
        ("baseline bot: /accounts status", "baseline", "status"),
    )


def report(measurements: list[Measurement], baseline: str | None = None) -> str:
    reference = {m.round: m.p99_ms for m in measurements if m.contender == REFERENCE}
    lines = [
        "| contender | p50 ms | p99 ms | p99 × bare AsyncApp | requests/s | server CPU ms/request |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, _, _ in contenders(baseline):
        mine = [m for m in measurements if m.contender == name]
        ratios = [m.p99_ms / reference[m.round] for m in mine if m.round in reference]

        def median(values: list[float]) -> float:
            return statistics.median(values) if values else float("nan")

        lines.append(
            f"| {name} | {median([m.p50_ms for m in mine]):.1f} | {median([m.p99_ms for m in mine]):.1f} "
            f"| {median(ratios):.2f} ({', '.join(f'{r:.2f}' for r in ratios)}) "
            f"| {median([m.per_second for m in mine]):,.0f} | {median([m.cpu_ms_per_request for m in mine]):.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=5.0, help="counted seconds per contender")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--json", help="write every measurement here")
    parser.add_argument("--baseline", help="also run the bot from this checkout (another commit), in each round")
    args = parser.parse_args(argv)

    context = multiprocessing.get_context("spawn")
    slack, theirs = context.Pipe()
    slack_process = context.Process(target=serve_slack, args=(theirs,), daemon=True)
    slack_process.start()
    slack_url = slack.recv()
    measurements: list[Measurement] = []
    try:
        for round_ in range(1, args.rounds + 1):
            for kind, group in itertools.groupby(contenders(args.baseline), key=lambda c: c[1]):
                if kind == "baseline":
                    process, port = start(context, "bot", slack_url, os.path.abspath(args.baseline))
                else:
                    process, port = start(context, kind, slack_url)
                try:
                    for name, _, text in group:
                        m = measure(slack, round_, name, process, port, text, args)
                        measurements.append(m)
                        print(
                            f"round {round_} {name}: p50 {m.p50_ms:.1f} ms, p99 {m.p99_ms:.1f} ms, "
                            f"{m.per_second:,.0f}/s, {m.cpu_ms_per_request:.2f} ms CPU/request, "
                            f"statuses {m.statuses}, load {m.load_before:.2f}"
                            + (
                                f", answers: {m.answers_in_ack} in acknowledgements + {m.responses_posted} posted"
                                f" for {m.sent} sent"
                                if m.responses_posted is not None
                                else ""
                            ),
                            file=sys.stderr,
                            flush=True,
                        )
                finally:
                    process.terminate()
                    process.join(10)
    finally:
        slack.close()
        slack_process.join(10)
    print(report(measurements, args.baseline))
    print(f"\nload average (1 min) before each measurement: {', '.join(f'{m.load_before:.2f}' for m in measurements)}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump([asdict(m) for m in measurements], out, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
