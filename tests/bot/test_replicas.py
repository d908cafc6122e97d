"""Two real `whisperer run` processes, one Slack stand-in, one PostgreSQL store, one world's sandbox.

Socket Mode spreads envelopes over both connections, so every guarantee here is between
processes: a question delivered several times is answered once, an approval clicked on both
replicas runs once, a replica killed while verifying a fix leaves it to the other one, and a
replica stopped with SIGTERM finishes the answer it was writing before it exits 0.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import pytest_asyncio
import yaml
from psycopg import sql

from agents.remediation.lease import run_lease
from bot.slack.recovery import TAKEN_OVER
from bot.slack.render.progress import PLACEHOLDER
from bot.slack.render.proposal import APPROVE_ACTION
from sandbox.slack import Message, SlackStandIn
from sandbox.up import Sandbox
from sandbox.world import load_world
from store import Store, open_store
from store.models import AuditKind, ProposalState
from tests.bot.test_cli import WHISPERER
from tests.conftest import skip_or_fail
from tests.store.conftest import PG_DSN, pg_url
from tests.store.conftest import raw_query as raw_pg_query

pytestmark = pytest.mark.asyncio(loop_scope="module")

CHANNEL = "#incident-payments"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
OUTCOME_ANNOTATION = "sandbox.infrawhisperer.dev/restart-outcome"
VERIFY_TIMEOUT_S = 6
TAKEOVER_AFTER_S = 3


@dataclass
class Replicas:
    sandbox: Sandbox
    slack: SlackStandIn
    store: Store
    store_url: str
    processes: list[asyncio.subprocess.Process]
    logs: list[Path]

    def bot_replies(self, ts: str) -> list[Message]:
        bot = self.slack.workspace.bot_user_id
        return [m for m in self.slack.driver.thread(CHANNEL, ts) if m.is_reply and m.user == bot]

    def answers(self, ts: str) -> list[Message]:
        """The bot's answer messages in a thread: each began life as a placeholder."""
        return [m for m in self.bot_replies(ts) if m.versions[0].text == PLACEHOLDER]

    def deployment(self, name: str) -> dict[str, Any]:
        state = self.sandbox.kube.state
        return state.get_object(state.deployment_type, "shop", name)

    def replicasets(self, name: str) -> int:
        owned = [
            rs
            for rs in self.sandbox.kube.state.objects("ReplicaSet", "shop")
            if any(ref.get("name") == name for ref in rs["metadata"].get("ownerReferences") or [])
        ]
        return len(owned)


@pytest.fixture(scope="module")
def pg_database_url() -> Iterator[str]:
    try:
        admin = psycopg.connect(PG_DSN, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        skip_or_fail(f"PostgreSQL for tests unreachable (WHISPERER_TEST_PG_DSN): {str(exc).splitlines()[0]}")
    name = f"whisperer_replicas_{secrets.token_hex(6)}"
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield pg_url(name)
    with psycopg.connect(PG_DSN, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


# The owning team's channel of payment-service in the payment-outage world, where its digest goes.
TEAM_CHANNEL = "#oncall-payments"
DIGEST_EVERY_MINUTES = 0.05


def _config(sandbox: Sandbox, slack: SlackStandIn, store_url: str, data_dir: Path) -> dict[str, Any]:
    world, endpoints = sandbox.world, sandbox.endpoints
    assert endpoints is not None
    services = [service.model_dump(mode="json") for service in world.meta.services]
    databases = sorted({service["database"] for service in services if service.get("database")})
    return {
        "data_dir": str(data_dir),
        "slack": {"base_url": slack.base_url},
        "store": {"url": store_url},
        "kubernetes": {
            "clusters": [
                {"name": "sandbox", "kubeconfig": endpoints.kubeconfig, "write_kubeconfig": endpoints.kubeconfig}
            ]
        },
        "prometheus": {"url": endpoints.prometheus},
        "databases": [{"name": name, "dsn": endpoints.database} for name in databases if endpoints.database],
        "github": {"base_url": endpoints.github},
        "services": services,
        "metrics": {"enabled": False},
        "remediation": {"verify_timeout_s": VERIFY_TIMEOUT_S, "takeover_after_s": TAKEOVER_AFTER_S},
        # Both replicas run this check every few seconds; the digest must still be posted once.
        "checks": {"workload-health": {"schedule": {"every_minutes": DIGEST_EVERY_MINUTES}}},
        **world.meta.config,
    }


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def replicas(pg_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Replicas]:
    workdir = tmp_path_factory.mktemp("replicas")
    async with (
        Sandbox(load_world("payment-outage"), workdir / "sandbox") as sandbox,
        SlackStandIn() as slack,
        await open_store(pg_database_url) as store,
    ):
        slack.workspace.ensure_channel(CHANNEL)
        slack.workspace.ensure_channel(TEAM_CHANNEL)
        config = workdir / "whisperer.yaml"
        config.write_text(yaml.safe_dump(_config(sandbox, slack, pg_database_url, workdir / "data")))
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "WHISPERER_CONFIG"))},
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_APP_TOKEN": slack.app_token,
        }
        # Logs go to files: a pipe nobody reads would fill up and stall a replica.
        logs = [workdir / f"replica-{n}.log" for n in range(2)]
        processes = []
        for log in logs:
            with log.open("wb") as sink:
                processes.append(
                    await asyncio.create_subprocess_exec(
                        str(WHISPERER), "run", "--config", str(config), env=env, stderr=sink
                    )
                )
        try:
            await slack.driver.wait_for(
                lambda: len(slack.socket_mode.connection_ids) == 2 or None, 60, "two Socket Mode connections"
            )
            yield Replicas(sandbox, slack, store, pg_database_url, processes, logs)
        finally:
            for process in processes:
                if process.returncode is None:
                    process.kill()
                await process.wait()


async def _proposal_message(replicas: Replicas, ts: str) -> Message:
    def found() -> Message | None:
        return next((m for m in replicas.bot_replies(ts) if APPROVE_ACTION in json.dumps(m.blocks)), None)

    return await replicas.slack.driver.wait_for(found, 30, f"a proposal in {ts}")


def _proposal_id(message: Message) -> str:
    """The proposal behind a proposal message: its Approve button's value (read before the buttons go)."""
    [proposal_id] = [
        str(element["value"])
        for block in message.blocks
        for element in block.get("elements") or []
        if element.get("action_id") == APPROVE_ACTION
    ]
    return proposal_id


async def _reaches(replicas: Replicas, proposal_id: str, states: set[ProposalState]) -> None:
    for _ in range(300):
        current = await replicas.store.get_proposal(proposal_id)
        if current is not None and current.state in states:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"proposal {proposal_id} never reached {sorted(states)}")


async def _executions(replicas: Replicas, proposal_id: str) -> list[bool]:
    events = await replicas.store.list_audit(limit=1000, kind=AuditKind.EXECUTION)
    return [bool(event.detail.get("executed")) for event in events if event.subject == proposal_id]


async def test_both_replicas_run_the_scheduled_check_but_the_digest_is_posted_once(replicas: Replicas) -> None:
    slack = replicas.slack

    def digests() -> list[Message]:
        bot = slack.workspace.bot_user_id
        return [m for m in slack.driver.channel_messages(TEAM_CHANNEL) if m.user == bot]

    await slack.driver.wait_for(lambda: digests() or None, 60, f"a digest in {TEAM_CHANNEL}")
    # Several more runs on each replica: none may post again, the findings are unchanged.
    await asyncio.sleep(DIGEST_EVERY_MINUTES * 60 * 4)
    runs = await replicas.store.list_audit(limit=1000, kind="check")
    assert len(runs) >= 3, "the check kept running"
    [digest] = digests()
    assert "payment-service" in slack.driver.render(digest) and "CrashLoopBackOff" in slack.driver.render(digest)


async def test_a_burst_of_questions_delivered_several_times_is_answered_once_each(replicas: Replicas) -> None:
    slack, hub = replicas.slack, replicas.slack.socket_mode
    questions = [
        "What pods are running in shop?",
        "Why is payment-service failing?",
        "runbook for CrashLoopBackOff",
        "show me failed orders",
    ]
    threads = []
    for question in questions:
        ts = await slack.driver.mention("alice", CHANNEL, question)
        [original] = [e for e in hub.envelopes.values() if e.payload.get("event", {}).get("ts") == ts]
        # Slack's duplicate deliveries of one event id, spread round-robin over both replicas.
        for _ in range(2):
            await hub.deliver("events_api", original.payload)
        threads.append(ts)
    deliveries = [e for e in hub.envelopes.values() if e.payload.get("event", {}).get("ts") in threads]
    assert len({e.connection_id for e in deliveries}) == 2, "the deliveries should reach both replicas"

    def settled() -> bool | None:
        finished = all(
            replicas.answers(ts) and all(m.text != PLACEHOLDER for m in replicas.answers(ts)) for ts in threads
        )
        return (finished and all(e.acked for e in deliveries)) or None

    await slack.driver.wait_for(settled, 45, "every question answered and every delivery acked")
    await asyncio.sleep(1.0)  # room for a duplicate answer to show up, if one were coming
    channel_id = slack.workspace.channel(CHANNEL).id
    for ts in threads:
        assert len(replicas.answers(ts)) == 1, slack.driver.transcript(CHANNEL, ts)
        assert len(await replicas.store.get_thread(channel_id, ts)) == 1


async def test_an_approval_clicked_on_both_replicas_runs_once(replicas: Replicas) -> None:
    slack = replicas.slack
    before = replicas.replicasets("payment-service")
    assert RESTARTED_AT not in (replicas.deployment("payment-service")["spec"]["template"]["metadata"] or {}).get(
        "annotations", {}
    )
    ts = await slack.driver.mention("alice", CHANNEL, "restart payment-service")
    message = await _proposal_message(replicas, ts)
    proposal_id = _proposal_id(message)
    clicks = [await slack.driver.click("bob", CHANNEL, message.ts, APPROVE_ACTION) for _ in range(2)]
    assert {slack.driver.envelope(click).connection_id for click in clicks} == set(slack.socket_mode.connection_ids)
    await _reaches(replicas, proposal_id, {ProposalState.VERIFIED, ProposalState.VERIFICATION_FAILED})
    await slack.driver.wait_for(
        lambda: any("nothing was done" in m.text for m in replicas.bot_replies(ts)) or None, 15, "the second click"
    )

    proposal = await replicas.store.get_proposal(proposal_id)
    assert proposal is not None and proposal.state is ProposalState.VERIFIED
    history = [event.to_state for event in await replicas.store.list_proposal_events(proposal_id)]
    assert history.count(ProposalState.EXECUTING) == 1 and history.count(ProposalState.APPROVED) == 1
    assert await _executions(replicas, proposal_id) == [True]
    assert replicas.replicasets("payment-service") == before + 1
    assert RESTARTED_AT in replicas.deployment("payment-service")["spec"]["template"]["metadata"]["annotations"]
    outcomes = [m for m in replicas.bot_replies(ts) if m.text.startswith("🛠️")]
    assert len(outcomes) == 1 and "Verified" in outcomes[0].text


async def test_a_replica_killed_while_verifying_a_fix_leaves_it_to_the_other(replicas: Replicas) -> None:
    slack, state = replicas.slack, replicas.sandbox.kube.state
    # Restarting orders-service will not cure it: its new pods crash, so verification polls until its timeout.
    patch = json.dumps({"metadata": {"annotations": {OUTCOME_ANNOTATION: "CrashLoopBackOff"}}}).encode()
    state.patch(state.deployment_type, "shop", "orders-service", "application/merge-patch+json", patch)
    before = replicas.replicasets("orders-service")
    ts = await slack.driver.mention("alice", CHANNEL, "restart orders-service")
    message = await _proposal_message(replicas, ts)
    proposal_id = _proposal_id(message)
    await slack.driver.click("bob", CHANNEL, message.ts, APPROVE_ACTION)
    await _reaches(replicas, proposal_id, {ProposalState.EXECUTED})

    # The replica verifying it is the one holding the fix's lease ("host:pid/run").
    lease = f"SELECT holder FROM leases WHERE name = '{run_lease(proposal_id)}'"
    [(holder,)] = raw_pg_query(replicas.store_url, lease)
    pid = int(holder.split("/")[0].rsplit(":", 1)[1])
    [victim] = [p for p in replicas.processes if p.pid == pid]
    victim.send_signal(signal.SIGKILL)
    await victim.wait()

    await _reaches(replicas, proposal_id, {ProposalState.VERIFICATION_FAILED})
    taken_over = await slack.driver.wait_for(
        lambda: [m for m in replicas.bot_replies(ts) if m.text.startswith(TAKEN_OVER)] or None, 15, "the takeover"
    )
    assert len(taken_over) == 1
    assert "Verification failed" in taken_over[0].text and "CrashLoopBackOff" in taken_over[0].text
    assert await _executions(replicas, proposal_id) == [True]
    assert replicas.replicasets("orders-service") == before + 1
    channel_id = slack.workspace.channel(CHANNEL).id

    def redrawn() -> Message | None:
        # The thread reply and the redrawn proposal are two Slack calls: wait for the second too.
        found = slack.workspace.find_message(channel_id, message.ts)
        return found if found is not None and TAKEN_OVER in json.dumps(found.blocks) else None

    await slack.driver.wait_for(redrawn, 15, "the proposal message redrawn after the takeover")
    # The rollback the verification failure calls for is offered, as after an uninterrupted run.
    [rollback] = await slack.driver.wait_for(
        lambda: [m for m in replicas.bot_replies(ts) if APPROVE_ACTION in json.dumps(m.blocks)] or None,
        15,
        "a rollback proposal",
    )
    assert "rollback_deployment" in slack.driver.render(rollback)


async def test_sigterm_finishes_the_answer_in_progress_then_exits_0(replicas: Replicas) -> None:
    slack = replicas.slack
    [survivor] = [p for p in replicas.processes if p.returncode is None]
    await slack.driver.wait_for(lambda: len(slack.socket_mode.connection_ids) == 1 or None, 10, "one connection")
    ts = await slack.driver.mention("alice", CHANNEL, "Why is payment-service failing?")
    [placeholder] = await slack.driver.wait_for(lambda: replicas.answers(ts) or None, 15, "the placeholder")
    assert placeholder.text == PLACEHOLDER
    survivor.send_signal(signal.SIGTERM)
    await asyncio.wait_for(survivor.wait(), 40)
    log = replicas.logs[replicas.processes.index(survivor)]
    assert survivor.returncode == 0, log.read_text()[-2000:]
    [answer] = replicas.answers(ts)
    # Edited from the placeholder into the full answer after the signal, not cut short.
    assert answer.text != PLACEHOLDER and "Interrupted" not in answer.text
    assert "payment-service" in answer.text and len(answer.versions) >= 2
    assert not slack.socket_mode.connection_ids
