"""The Slack surface under load: ack latency of /whisper and of button clicks, and time to the placeholder.

The bot runs in its own process exactly as `whisperer run` serves it (`bot.slack.socket.serve`),
connected over Socket Mode to the Slack stand-in in this process, with scripted agents that
answer at once: the figures measure the Slack side (Bolt, the redacting client, the store), not
the investigation, and the stand-in's own work does not share the bot's event loop. Slack gives
an app 3 s to ack; the bot aims for under 100 ms, and for a visible placeholder within a second.

Placeholder times are read from Slack's own timestamps (the mention's and the first reply's), so
they do not depend on how fast this process notices the reply; each user asks in a channel of
their own, as separate incidents would.
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from tempfile import TemporaryDirectory

from agents.answer import Answer
from agents.question import Question
from bench.latency_chart import write_latency_chart
from bench.report import Figure, percentile
from bot.slack.deps import SlackDeps
from bot.slack.render.proposal import APPROVE_ACTION
from bot.slack.socket import serve
from guardrails.policy_config import ChannelBinding
from guardrails.redaction import Redactor
from sandbox.slack import SlackDriver, SlackStandIn
from store import open_store
from tests.bot.slack.doubles import RESTART, ScriptedAsker, StoreRemediation, outage_answer

CHANNEL = "#incident-payments"
REQUESTER = "requester"
CONCURRENCY = (1, 10, 50)
SAMPLES = 100  # per figure, taken `concurrency` users at a time
WAIT_S = 30.0
ACK_TARGET_MS = 100.0
PLACEHOLDER_TARGET_MS = 1000.0
SLACK_ACK_LIMIT_MS = 3000.0

Sample = Callable[[str, int], Awaitable[float]]


def _users(count: int) -> list[str]:
    return [f"user{number}" for number in range(count)]


def _answers() -> Callable[[Question], Answer]:
    """The outage answer, each time proposing to restart a deployment of its own.

    The policy allows only a few actions per target an hour, and the bench asks and clicks hundreds
    of times: with one target, every proposal after the first few would be refused, without buttons.
    """
    numbers = itertools.count()

    def answer(question: Question) -> Answer:
        target = RESTART.target.model_copy(update={"name": f"{RESTART.target.name}-{next(numbers)}"})
        return outage_answer(question.text, proposals=[RESTART.model_copy(update={"target": target})])

    return answer


async def _serve_bot(base_url: str, bot_token: str, app_token: str, data_dir: str) -> None:
    store = await open_store(f"sqlite:///{data_dir}/bench.db")
    deps = SlackDeps(
        asker=ScriptedAsker(_answers(), progress=()),
        remediation=StoreRemediation(store, approvers=[f"U_{user.upper()}" for user in _users(max(CONCURRENCY))]),
        store=store,
        redactor=Redactor(),
        bot_token=bot_token,
        base_url=base_url,
        channels=[ChannelBinding(channel=CHANNEL)],
    )
    await serve(deps, app_token)


def _bot_process(base_url: str, bot_token: str, app_token: str, data_dir: str) -> None:
    """The bot's own process (spawned, so it shares nothing with the stand-in but the sockets)."""
    asyncio.run(_serve_bot(base_url, bot_token, app_token, data_dir))


def _channel(user: str) -> str:
    """Each user asks in a channel of their own, so waiting for one reply never scans everyone's."""
    return f"#bench-{user}"


async def _ack_ms(driver: SlackDriver, deliver: Awaitable[str]) -> float:
    started = time.perf_counter()
    await driver.wait_for_ack(await deliver, WAIT_S)
    return (time.perf_counter() - started) * 1000


async def _slash(driver: SlackDriver, user: str, number: int) -> float:
    return await _ack_ms(driver, driver.slash(user, CHANNEL, f"question {number}"))


async def _click(driver: SlackDriver, proposals: dict[str, list[str]], user: str, number: int) -> float:
    message_ts = proposals[user].pop()
    return await _ack_ms(driver, driver.click(user, _channel(user), message_ts, APPROVE_ACTION))


async def _placeholder(driver: SlackDriver, threads: dict[str, list[str]], user: str, number: int) -> float:
    """Mention the bot and wait for its placeholder; the delay is read from Slack's timestamps."""
    channel = _channel(user)
    ts = await driver.mention(REQUESTER, channel, f"question {number}")
    threads[user].append(ts)
    [placeholder, *_] = await driver.wait_for_reply(channel, ts, timeout=WAIT_S)
    return (float(placeholder.ts) - float(ts)) * 1000


async def _samples(concurrency: int, sample: Sample) -> list[float]:
    """`SAMPLES` timings, `concurrency` users acting at the same moment; each call gets its own number."""
    users = _users(concurrency)
    timings: list[float] = []
    for start in range(0, SAMPLES, concurrency):
        timings += await asyncio.gather(*(sample(user, start + index) for index, user in enumerate(users)))
    return timings


async def _proposals(driver: SlackDriver, threads: dict[str, list[str]]) -> dict[str, list[str]]:
    """The proposal message that each answer in `threads` ended with, per user."""
    proposals: dict[str, list[str]] = {}
    for user, started in threads.items():
        proposals[user] = [
            (await driver.wait_for_reply(_channel(user), ts, count=2, timeout=WAIT_S))[1].ts for ts in started
        ]
    return proposals


def _figures(what: str, concurrency: int, timings: list[float], target: float) -> list[Figure]:
    users = f"{concurrency} user{'s' if concurrency > 1 else ''}"
    return [
        Figure(f"slack {what}, {users}, p50", percentile(timings, 50), "ms", target),
        Figure(f"slack {what}, {users}, p99", percentile(timings, 99), "ms", SLACK_ACK_LIMIT_MS),
    ]


async def _measure(slack: SlackStandIn) -> list[Figure]:
    driver = slack.driver
    figures: list[Figure] = []
    series: dict[str, list[tuple[int, float, float]]] = {"slash ack": [], "click ack": [], "placeholder": []}
    for concurrency in CONCURRENCY:
        threads: dict[str, list[str]] = {user: [] for user in _users(concurrency)}
        slash = await _samples(concurrency, partial(_slash, driver))
        placeholder = await _samples(concurrency, partial(_placeholder, driver, threads))
        clicks = await _samples(concurrency, partial(_click, driver, await _proposals(driver, threads)))
        figures += _figures("slash ack", concurrency, slash, ACK_TARGET_MS)
        figures += _figures("click ack", concurrency, clicks, ACK_TARGET_MS)
        figures += _figures("placeholder", concurrency, placeholder, PLACEHOLDER_TARGET_MS)
        for what, timings in (("slash ack", slash), ("click ack", clicks), ("placeholder", placeholder)):
            series[what].append((concurrency, percentile(timings, 50), percentile(timings, 99)))
    write_latency_chart(series)
    return figures


async def run() -> list[Figure]:
    with TemporaryDirectory() as data_dir:
        async with SlackStandIn(users=[REQUESTER, *_users(max(CONCURRENCY))]) as slack:
            bot = multiprocessing.get_context("spawn").Process(
                target=_bot_process,
                args=(slack.base_url, slack.bot_token, slack.app_token, str(Path(data_dir))),
                daemon=True,
            )
            bot.start()
            try:
                await slack.driver.wait_for(lambda: slack.socket_mode.connection_ids, WAIT_S, "the bot to connect")
                return await _measure(slack)
            finally:
                bot.terminate()
                bot.join()
