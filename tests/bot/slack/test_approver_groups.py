"""Approver groups: Slack user groups named in `access.approver_groups`, resolved through the Slack stand-in.

The stand-in's `sre-oncall` group holds alice and bob. The bundled worlds list U_BOB and U_CAROL
as approvers, so alice may approve only through the group, and dave not at all.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml
from slack_sdk.web.async_client import AsyncWebClient

from bot.evaluation.slack_player import SlackPlayer
from bot.slack.usergroups import ApproverGroups
from bot.slack_world import slack_world
from sandbox.slack import SlackStandIn
from sandbox.world_models import Case
from store.models import ProposalState

ONCALL = "sre-oncall"
CHANNEL = "#incident-payments"


def group_id(slack: SlackStandIn, handle: str = ONCALL) -> str:
    group = slack.workspace.find_usergroup(handle)
    assert group is not None
    return group.id


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def member_lookups(slack: SlackStandIn) -> int:
    return sum(call.method == "usergroups.users.list" for call in slack.calls)


async def test_members_are_in_the_group_and_others_are_not(slack: SlackStandIn) -> None:
    oncall = group_id(slack)
    groups = ApproverGroups(AsyncWebClient(token=slack.bot_token, base_url=slack.base_url), [oncall])

    assert await groups("U_ALICE") == {oncall}
    assert await groups("U_CAROL") == set()


async def test_members_are_cached_for_a_few_minutes(slack: SlackStandIn) -> None:
    clock = Clock()
    oncall = group_id(slack)
    groups = ApproverGroups(AsyncWebClient(token=slack.bot_token, base_url=slack.base_url), [oncall], clock=clock)

    await groups("U_ALICE")
    await groups("U_BOB")
    assert member_lookups(slack) == 1

    slack.workspace.usergroups[oncall].users.append("U_CAROL")  # the rotation changed in Slack
    clock.now += 299
    assert await groups("U_CAROL") == set()
    clock.now += 2
    assert await groups("U_CAROL") == {oncall}
    assert member_lookups(slack) == 2


async def test_a_slack_error_fails_closed_with_a_warning(slack: SlackStandIn, caplog: pytest.LogCaptureFixture) -> None:
    oncall = group_id(slack)
    unknown = ApproverGroups(AsyncWebClient(token=slack.bot_token, base_url=slack.base_url), ["S0NOSUCHGRP", oncall])
    unreachable = ApproverGroups(AsyncWebClient(token=slack.bot_token, base_url="http://127.0.0.1:1/api/"), [oncall])

    with caplog.at_level(logging.WARNING, logger="bot.slack.usergroups"):
        assert await unknown("U_ALICE") == {oncall}, "a group Slack refuses counts as empty; the others still count"
        assert await unreachable("U_ALICE") == set()

    warnings = [record.getMessage() for record in caplog.records]
    assert "cannot read the members of user group S0NOSUCHGRP: no_such_subteam" in warnings
    assert any(message.startswith(f"cannot read the members of user group {oncall}: ") for message in warnings)
    assert slack.bot_token not in caplog.text


async def test_a_group_member_can_approve_and_a_stranger_cannot(tmp_path: Path) -> None:
    config = tmp_path / "whisperer.yaml"
    config.write_text(yaml.safe_dump({"access": {"approver_groups": [group_id(SlackStandIn())]}}))

    async with slack_world(str(config), "payment-outage") as session:
        player = SlackPlayer(session.slack, session.runtime, session.default_channel)

        def restart(approver: str) -> Case:
            return Case(
                id=f"restart-approved-by-{approver}",
                channel=CHANNEL,
                user="U_BOB",
                ask="restart payment-service",
                approve={"by": approver},
            )

        stranger = await player.play(restart("U_DAVE"))
        member = await player.play(restart("U_ALICE"))
        proposals = await session.runtime.store.list_proposals()

    assert stranger.clicked and not stranger.executed
    assert any("not allowed to approve" in text for text in stranger.after_texts), stranger.after_texts
    assert member.clicked and member.executed, member.after_texts
    assert any("restarted" in text.lower() for text in member.after_texts)
    assert member_lookups(session.slack) >= 1
    assert sorted(proposal.state for proposal in proposals) == sorted(
        [ProposalState.PENDING, ProposalState.VERIFIED]
    ), "the stranger's click left their proposal pending"
