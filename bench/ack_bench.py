"""Benchmark: how fast Slack's requests are acknowledged, the bot against bare Bolt apps, in one run.

    python -m bench.ack_bench                    # 6 rounds of 3 passes, 50 connections, 1 s slices
    python -m bench.ack_bench --rounds 10 --json ack.json
    git archive HEAD~1 | tar -x -C /tmp/before && python -m bench.ack_bench --baseline /tmp/before

The contenders: a server that only answers 200 (the generator's own floor), a bare Bolt AsyncApp and a bare sync
Bolt App (dispatched through Starlette's thread pool) that only `ack()`, then the bot's `/accounts help` and
`/accounts status` (and with `--baseline`, the bot of another checkout: help and status again). Each is served by
uvicorn in a process of its own, all started at once and kept running; the Slack fake (Web API, response URLs: what
`respond()` posts to) runs in another.

The machine's own noise (other work, its scheduler) moves a contender's p99 by 2-3× from one minute to the next, so
contenders are not loaded one after another for seconds each: the load is cut into short interleaved *slices*. A
pass loads every contender for one slice (`--slice`, 1 s counted after `--settle` uncounted, on 50 new keep-alive
connections) with the same closed-loop generator (`bench.ack_load`: each connection sends the next signed
`/accounts` command as soon as the last was answered), in an order rotated from pass to pass; a round is
`--passes` passes. Every contender thus sees the same stretches of the run, a second apart, and a round's ratio of
p99s (its slices pooled) compares contenders under the same conditions.

Reported: p50 and p99 of every slice pooled, requests/s, the server's CPU per request (its process's, over its
slices), and p99 against the bare AsyncApp's: pooled over the run, with a 90% interval from drawing the run's passes
again (a bootstrap: how far the pooled ratio can be trusted), and beside it the median of the rounds' own ratios
with their range (how far one round alone could be trusted). Each request carries a new trigger id and a response
URL the fake handed out, and `status` is checked to have given its answer (counted in its acknowledgements and among
the posts the fake accepted). Needs the `test` extra (the fakes) and `bench` (aiohttp, for Bolt's AsyncApp).
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import os
import random
import secrets
import statistics
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlencode

from bench.ack_contenders import BOT_TOKEN, CHANNEL, SECRET, TEAM, USER, serve
from bench.ack_load import LoadResult, run_load
from tests.fakes.server import free_port
from tests.fakes.slack.delivery import sign

CONTENDERS = (  # (name, server kind, command text); each in a process of its own
    ("floor (generator + server only)", "floor", "help"),
    ("bare AsyncApp, ack()", "bare-async", "help"),
    ("bare sync App, ack()", "bare-sync", "help"),
    ("bot: /accounts help", "bot", "help"),
    ("bot: /accounts status", "bot", "status"),
)
BASELINE = (  # with --baseline: the bot of another checkout
    ("baseline bot: /accounts help", "baseline", "help"),
    ("baseline bot: /accounts status", "baseline", "status"),
)
REFERENCE = "bare AsyncApp, ack()"
USES_PER_URL = 5  # Slack's (and the fake's) limit on one response URL
BOOTSTRAP_DRAWS = 300
STATUS_ANSWER = b"Accounting connection status"  # the text of status's answer, in its acknowledgement or posted


@dataclass
class Slice:
    """One contender's share of one pass."""

    round: int
    pass_: int  # counted over the whole run
    contender: str
    latencies: list[float]  # seconds, of the requests counted
    statuses: dict[int, int]
    seconds: float  # counted
    response_urls: list[str]  # the ones handed out for it
    sent: int  # requests sent, the settling's included
    cpu_seconds: float  # the server process's, over the whole slice
    answers_in_ack: int  # status: acknowledgements that carried the answer (0 for the others)
    load: float  # the 1-minute load average as it began


@dataclass
class Measurement:
    """A contender over one round (`round` > 0) or over the whole run (`round` 0): its slices pooled."""

    round: int
    contender: str
    requests: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    per_second: float
    cpu_ms_per_request: float
    statuses: dict[int, int]
    slices: int
    sent: int = 0  # requests sent, the settling's included
    answers_in_ack: int | None = None  # status: acknowledgements that carried the answer
    responses_posted: int | None = None  # status, whole run: answers the Slack fake accepted on response URLs


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
        else:  # the response URLs of the posts it accepted
            pipe.send([r.response_url for r in slack.responses if r.status == 200])


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


def launch(context: Any, kind: str, slack_url: str, source: str | None = None) -> tuple[Any, int, Any]:
    """A contender's process set going (`ready` waits for it): the process, its port, and the pipe it says it is
    ready on. Not a daemon: the bot's server starts the import's reading process as it serves (`BotServer.start`),
    and a daemon may not have children. `main` ends every contender it started, whatever stops it."""
    port = free_port()
    ours, theirs = context.Pipe()
    process = context.Process(target=serve, args=(kind, port, slack_url, theirs, source))
    process.start()
    return process, port, ours


def ready(name: str, pipe: Any) -> None:
    if not pipe.poll(60):
        raise RuntimeError(f"{name} did not start")
    pipe.recv()


def load_slice(
    slack: Any, round_: int, pass_: int, name: str, process: Any, port: int, text: str, args: argparse.Namespace
) -> Slice:
    """Load one contender for `args.settle` + `args.slice` seconds on new connections; the settling is not counted
    (the connections opening, the first requests queueing)."""
    expected = int(4000 * (args.slice + args.settle))  # more than any contender answers here
    slack.send(("issue", expected // USES_PER_URL + 1))
    urls = slack.recv()
    built = itertools.count()
    build = command_builder(port, text, urls)

    def counted() -> bytes:
        next(built)
        return build()

    load = os.getloadavg()[0]
    cpu_before = cpu_seconds(process.pid)
    result = run_load(
        "127.0.0.1",
        port,
        counted,
        connections=args.connections,
        seconds=args.slice,
        warmup=args.settle,
        check=(lambda body: STATUS_ANSWER in body) if text == "status" else None,
    )
    cpu = cpu_seconds(process.pid) - cpu_before
    return Slice(
        round=round_,
        pass_=pass_,
        contender=name,
        latencies=result.latencies,
        statuses=result.statuses,
        seconds=result.seconds,
        response_urls=urls,
        sent=next(built) - args.connections,  # each connection built one more request than it sent
        cpu_seconds=cpu,
        answers_in_ack=result.checked,
        load=load,
    )


def pooled(slices: list[Slice], round_: int, name: str, text: str, posted: Counter[str] | None = None) -> Measurement:
    """`posted`: the answers the fake accepted, by response URL (given for the whole run)."""
    result = LoadResult(
        latencies=[latency for s in slices for latency in s.latencies], seconds=sum(s.seconds for s in slices)
    )
    statuses: dict[int, int] = {}
    for s in slices:
        for status, n in s.statuses.items():
            statuses[status] = statuses.get(status, 0) + n
    sent = sum(s.sent for s in slices)
    return Measurement(
        round=round_,
        contender=name,
        requests=len(result.latencies),
        p50_ms=result.percentile(50),
        p99_ms=result.percentile(99),
        max_ms=result.percentile(100),
        per_second=result.throughput,
        cpu_ms_per_request=sum(s.cpu_seconds for s in slices) * 1000 / max(1, sent),
        statuses=statuses,
        slices=len(slices),
        sent=sent,
        answers_in_ack=sum(s.answers_in_ack for s in slices) if text == "status" else None,
        responses_posted=(
            sum(posted[url] for s in slices for url in set(s.response_urls))
            if text == "status" and posted is not None
            else None
        ),
    )


def contenders(baseline: str | None) -> tuple[tuple[str, str, str], ...]:
    return CONTENDERS if baseline is None else CONTENDERS + BASELINE


def measurements(
    slices: list[Slice], names: tuple[tuple[str, str, str], ...], rounds: int, posted: Counter[str]
) -> list[Measurement]:
    """Each contender pooled by round, then over the whole run (round 0)."""
    out = []
    for name, _, text in names:
        mine = [s for s in slices if s.contender == name]
        out += [pooled([s for s in mine if s.round == r], r, name, text) for r in range(1, rounds + 1)]
        out.append(pooled(mine, 0, name, text, posted))
    return out


def p99(latencies: list[float]) -> float:
    return LoadResult(latencies=latencies).percentile(99)


def ratio_interval(slices: list[Slice], name: str, draws: int = BOOTSTRAP_DRAWS) -> tuple[float, float]:
    """How far the pooled p99 ratio (`name`'s over the reference's) can be trusted: its 5th and 95th percentiles
    over the run's passes drawn again with replacement (a bootstrap; a pass is the unit, as its slices ran a second
    apart and share the machine's moments). Seeded, so the same run reports the same interval."""
    by_pass: dict[int, dict[str, list[float]]] = {}
    for s in slices:
        by_pass.setdefault(s.pass_, {})[s.contender] = s.latencies
    passes = sorted(by_pass)
    draw = random.Random(0)
    ratios = []
    for _ in range(draws):
        chosen = [by_pass[draw.choice(passes)] for _ in passes]
        mine = p99([latency for one in chosen for latency in one[name]])
        reference = p99([latency for one in chosen for latency in one[REFERENCE]])
        ratios.append(mine / reference)
    ratios.sort()
    return ratios[int(0.05 * (draws - 1))], ratios[int(0.95 * (draws - 1))]


def report(measured: list[Measurement], slices: list[Slice], baseline: str | None = None) -> str:
    whole = {m.contender: m for m in measured if m.round == 0}
    reference = {m.round: m.p99_ms for m in measured if m.contender == REFERENCE}
    lines = [
        "| contender | p50 ms | p99 ms | p99 × bare AsyncApp: pooled [90% interval] | by round: median (range) "
        "| requests/s | server CPU ms/request |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, _, _ in contenders(baseline):
        m = whole[name]
        ratios = sorted(r.p99_ms / reference[r.round] for r in measured if r.contender == name and r.round > 0)
        by_round = f"{statistics.median(ratios):.2f} ({ratios[0]:.2f}–{ratios[-1]:.2f})" if ratios else "–"
        low, high = ratio_interval(slices, name) if name != REFERENCE else (1.0, 1.0)
        lines.append(
            f"| {name} | {m.p50_ms:.1f} | {m.p99_ms:.1f} | {m.p99_ms / reference[0]:.2f} [{low:.2f}–{high:.2f}] "
            f"| {by_round} | {m.per_second:,.0f} | {m.cpu_ms_per_request:.2f} |"
        )
    return "\n".join(lines)


def rotated(names: tuple[tuple[str, str, str], ...], turn: int) -> tuple[tuple[str, str, str], ...]:
    """The pass's order: each pass starts one contender later, so none always follows the same one."""
    turn %= len(names)
    return names[turn:] + names[:turn]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--passes", type=int, default=3, help="passes per round (a slice of each contender each)")
    parser.add_argument("--slice", type=float, default=1.0, help="counted seconds per contender per pass")
    parser.add_argument("--settle", type=float, default=0.25, help="uncounted seconds before each slice")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--json", help="write the measurements (by round and pooled) and every slice here")
    parser.add_argument("--baseline", help="also run the bot from this checkout (another commit), interleaved")
    args = parser.parse_args(argv)

    names = contenders(args.baseline)
    context = multiprocessing.get_context("spawn")
    slack, theirs = context.Pipe()
    slack_process = context.Process(target=serve_slack, args=(theirs,), daemon=True)
    slack_process.start()
    slack_url = slack.recv()
    servers: dict[str, tuple[Any, int]] = {}
    slices: list[Slice] = []
    try:
        pipes = {}
        for name, kind, _ in names:  # a process each, help and status alike: one's leftovers are not the other's
            source = os.path.abspath(args.baseline) if kind == "baseline" else None
            process, port, pipes[name] = launch(context, "bot" if kind == "baseline" else kind, slack_url, source)
            servers[name] = process, port
        for name, pipe in pipes.items():  # all start at once, and are waited for before any load
            ready(name, pipe)
        for round_ in range(1, args.rounds + 1):
            for turn in range(args.passes):
                pass_ = (round_ - 1) * args.passes + turn
                for name, _, text in rotated(names, pass_):
                    process, port = servers[name]
                    slices.append(load_slice(slack, round_, pass_, name, process, port, text, args))
            this = [s for s in slices if s.round == round_]
            print(
                f"round {round_} (load {min(s.load for s in this):.2f}–{max(s.load for s in this):.2f}), p99 ms: "
                + ", ".join(
                    f"{name} {pooled([s for s in this if s.contender == name], round_, name, text).p99_ms:.1f}"
                    for name, _, text in names
                ),
                file=sys.stderr,
                flush=True,
            )
        time.sleep(1)  # the answers posted after the last acknowledgements reach the fake
        slack.send(("responses", 0))
        posted = Counter(slack.recv())
    finally:
        for process, _ in servers.values():
            process.terminate()
        for process, _ in servers.values():
            process.join(10)
        slack.close()
        slack_process.join(10)
    measured = measurements(slices, names, args.rounds, posted)
    print(report(measured, slices, args.baseline))
    print()
    for m in measured:
        if m.round == 0:
            answers = (
                f"; answers: {m.answers_in_ack} in acknowledgements + {m.responses_posted} posted for {m.sent} sent"
                if m.answers_in_ack is not None
                else ""
            )
            print(f"{m.contender}: statuses {m.statuses}{answers}")
    loads = [s.load for s in slices]
    print(f"load average (1 min) during the run: {min(loads):.2f}–{max(loads):.2f}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"measurements": [asdict(m) for m in measured], "slices": [asdict(s) for s in slices]}, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
