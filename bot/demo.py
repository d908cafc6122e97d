"""`whisperer demo`: a world's cases played as Slack users would, with the transcript printed.

The bot is the production Bolt app over Socket Mode; only Slack itself is the local stand-in.
With `--interactive` a person types the questions, and `approve N` / `reject N` press the
buttons of the N-th proposal shown.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from bot.evaluation.judge import judge
from bot.evaluation.runner import play
from bot.evaluation.slack_player import SlackPlayer
from bot.slack.render.proposal import APPROVE_ACTION, REJECT_ACTION
from bot.slack_world import SlackWorld, slack_world
from sandbox.world_models import Case

Say = Callable[[str], None]
RULE = "─" * 100
APPROVER = "U_BOB"
ASKER = "U_ALICE"
HELP = "Type a question for @whisperer, 'approve N [as USER]', 'reject N [as USER]', or 'quit'."


def _describe(case: Case, channel: str) -> str:
    if case.check is not None:
        return f"scheduled check {case.check}"
    who = case.user or ASKER
    how = {"slash": f"/whisper {case.ask}", "ask": f'whisperer ask "{case.ask}"'}.get(
        case.via, f"@whisperer {case.ask}"
    )
    return f"{who} in {case.channel or channel}: {how}"


async def run_demo(config_file: str | None, world_name: str, interactive: bool, say: Say, verbose: bool) -> None:
    if not verbose:
        for noisy in ("slack_bolt", "slack_sdk"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    async with slack_world(config_file, world_name) as session:
        world = session.world
        say(f"InfraWhisperer demo: world {world.name}")
        say(world.meta.description.strip())
        player = SlackPlayer(session.slack, session.runtime, session.default_channel)
        if interactive:
            await _interactive(session, player, say)
            return
        passed = 0
        for number, case in enumerate(world.expectations.cases, start=1):
            say(f"\n{RULE}\n{number}. {case.id} — {_describe(case, session.default_channel)}\n{RULE}")
            outcome = await play(session, player, case)
            if case.check is not None or case.via == "ask":
                say("\n\n".join(outcome.texts + outcome.after_texts))
            else:
                channel, thread_ts = player.threads[-1]
                say(session.slack.driver.transcript(channel, thread_ts))
            problems = judge(case, outcome)
            passed += not problems
            say("✓ as expected" if not problems else "✗ " + "; ".join(problems))
        say(f"\n{passed} of {len(world.expectations.cases)} cases behaved as expected")


async def _interactive(session: SlackWorld, player: SlackPlayer, say: Say) -> None:
    channel = session.default_channel
    shown: list[tuple[str, str]] = []
    say(f"You are alice in {channel}. {HELP}")
    while True:
        try:
            line = (await asyncio.to_thread(input, "you> ")).strip()
        except EOFError:
            return
        words = line.split()
        if not words:
            continue
        if words[0].lower() in ("quit", "exit"):
            return
        if words[0].lower() in ("approve", "reject") and len(words) in (2, 4) and words[1].isdigit():
            index = int(words[1]) - 1
            if not 0 <= index < len(shown):
                say(f"There is no proposal {words[1]}; {len(shown)} shown so far.")
                continue
            user = player.user(words[3] if len(words) == 4 else APPROVER)
            thread_ts, proposal_id = shown[index]
            message = next(m for m in player.slack.driver.thread(channel, thread_ts) if proposal_id in str(m.blocks))
            action = APPROVE_ACTION if words[0].lower() == "approve" else REJECT_ACTION
            await player.slack.driver.click(user, channel, message.ts, action, proposal_id)
            await player.settle(channel, thread_ts)
            say(player.slack.driver.transcript(channel, thread_ts))
            continue
        thread_ts = await player.slack.driver.mention(player.user(ASKER), channel, line)
        await player.settle(channel, thread_ts)
        say(player.slack.driver.transcript(channel, thread_ts))
        for proposal_id in player.proposal_ids_in(channel, thread_ts):
            if (thread_ts, proposal_id) not in shown:
                shown.append((thread_ts, proposal_id))
                say(f"  → proposal {len(shown)}: 'approve {len(shown)}' or 'reject {len(shown)}'")
