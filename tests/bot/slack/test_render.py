"""Block Kit output stays within Slack's limits however long the answer, and nothing is dropped."""

from __future__ import annotations

import json
from datetime import timedelta

from agents.answer import FactGroup, SourceFailure
from agents.progress import SpecialistProgress, SpecialistState
from bot.slack.render.answer import render_answer
from bot.slack.render.blocks import escape_keeping_mentions, split_text
from bot.slack.render.home import HomeData, home_view
from bot.slack.render.progress import progress_line
from bot.slack.render.proposal import proposal_message
from sandbox.slack import block_errors, render_blocks
from sandbox.slack.blocks import MAX_VIEW_BLOCKS
from store import StoredProposal, utcnow
from tests.bot.slack.doubles import RESTART, VERDICT, outage_answer
from tools.findings import Finding, Severity
from tools.health import Health


def test_an_enormous_answer_is_spread_over_valid_messages_and_a_snippet() -> None:
    findings = [
        Finding(source=f"source-{n % 7}", severity=Severity.WARNING, summary=f"symptom {n}", evidence="x" * 900)
        for n in range(120)
    ]
    table = {"title": "slow queries", "columns": ["query", "ms"], "rows": [[f"SELECT {n}", n] for n in range(500)]}
    facts = [FactGroup(source="kubernetes", lines=["word " * 40 for _ in range(1000)])]
    answer = outage_answer(text="word " * 40_000, findings=findings, facts=facts, tables=[table])

    rendered = render_answer(answer)

    messages = [rendered.blocks, *rendered.follow_ups]
    assert len(messages) > 1
    for blocks in messages:
        assert block_errors(blocks) == []
    shown = "\n".join(render_blocks(blocks) for blocks in messages)
    assert shown.startswith(f"*{VERDICT}*")
    assert all(f"symptom {n}" in shown for n in range(120))
    assert "485 more rows in the attached file" in shown
    assert rendered.snippet is not None
    assert "SELECT 499" in rendered.snippet and rendered.snippet.count("x" * 900) == 120


def test_the_verdict_leads_and_failed_sources_are_named() -> None:
    answer = outage_answer(
        refused="deleting namespaces is not in the action catalog",
        sources_failed=[SourceFailure(source="metrics", error="timeout"), SourceFailure(source="database", error="x")],
    )
    shown = render_blocks(render_answer(answer).blocks)

    assert shown.splitlines()[0] == f"*{VERDICT}*"
    assert shown.splitlines()[1] == "🚫 *Refused:* deleting namespaces is not in the action catalog"
    assert "Could not check: *metrics* (timeout), *database* (x)" in shown


def test_text_from_tools_cannot_inject_slack_markup() -> None:
    facts = [FactGroup(source="logs", lines=["see <https://evil.example|here>"])]
    answer = outage_answer(verdict="p99 > 2s for <!channel> & friends", facts=facts)
    sent = json.dumps(render_answer(answer).blocks)

    assert "*p99 &gt; 2s for &lt;!channel&gt; &amp; friends*" in sent
    assert "&lt;https://evil.example|here&gt;" in sent
    assert "<https://evil" not in sent and "<!channel>" not in sent


def test_split_text_keeps_every_character_within_the_limit() -> None:
    text = "short line\n" + "y" * 7000 + "\n" + "\n".join(f"line {n}" for n in range(800))
    pieces = split_text(text, 3000)

    assert all(len(piece) <= 3000 for piece in pieces)
    assert "".join(pieces).replace("\n", "") == text.replace("\n", "")


def test_progress_lines_say_what_each_specialist_is_doing() -> None:
    lines = [
        progress_line(SpecialistProgress(specialist="kubernetes", state=state, detail=detail))
        for state, detail in (
            (SpecialistState.CHECKING, ""),
            (SpecialistState.FOUND, "2 problems"),
            (SpecialistState.NOTHING, ""),
            (SpecialistState.FAILED, "403 Forbidden"),
        )
    ]
    assert lines == [
        "⏳ kubernetes: checking…",
        "🔎 kubernetes: found 2 problems",
        "✅ kubernetes: nothing unusual",
        "⚠️ kubernetes: failed: 403 Forbidden",
    ]


def test_a_proposal_with_an_unexpected_payload_still_renders_valid_blocks() -> None:
    odd = StoredProposal(
        expires_at=utcnow() + timedelta(minutes=5),
        requested_by="U_ALICE",
        channel="#incident-payments",
        digest="d" * 64,
        payload={"kind": "something else"},
    )
    for stored in (odd, odd.model_copy(update={"payload": {**RESTART.model_dump(mode="json"), "dry_run": "ok"}})):
        _, blocks = proposal_message(stored, ["✅ Approved by <@U_BOB>"])
        assert block_errors(blocks) == []
    assert "*Dry run:* ok" in render_blocks(blocks)


def test_the_home_tab_stays_within_the_view_limit() -> None:
    data = HomeData(
        pending=[],
        incidents=[],
        findings=[],
        sources=[Health(source=f"source-{n}", ok=n % 2 == 0, detail="d" * 300) for n in range(200)],
    )
    view = home_view(data, utcnow())

    assert block_errors(view["blocks"], limit=MAX_VIEW_BLOCKS) == []
    assert "175 more not shown" in render_blocks(view["blocks"])


def test_decider_mentions_stay_mentions_but_broadcasts_and_links_do_not() -> None:
    shown = escape_keeping_mentions("approved by <@U_BOB> for <!channel> & <https://evil.example|you>")
    assert shown == "approved by <@U_BOB> for &lt;!channel&gt; &amp; &lt;https://evil.example|you&gt;"


def test_a_models_explanation_is_labelled_unverified_and_escaped() -> None:
    answer = outage_answer(explanation="the pool is empty; also <!channel> please <https://evil.example|click>")
    sent = json.dumps(render_answer(answer).blocks)
    assert "Model's explanation (unverified):* the pool is empty" in sent
    assert "<!channel>" not in sent and "<https://evil" not in sent
    assert "Model's explanation" not in json.dumps(render_answer(outage_answer()).blocks)
