"""A stateful Slack stand-in (Web API + Socket Mode) that the real Bolt app runs against unchanged."""

from sandbox.slack.blocks import block_errors, render_blocks
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import SlackStandIn, fake_app_token, fake_bot_token
from sandbox.slack.socket_mode import Envelope
from sandbox.slack.state import (
    Channel,
    EphemeralMessage,
    HomeView,
    Message,
    MessageVersion,
    SlackFile,
    SlackStandInError,
    UnknownChannelError,
    UnknownUserError,
    User,
    UserGroup,
    WaitTimeoutError,
    Workspace,
)
from sandbox.slack.web_api import ApiCall

__all__ = [
    "ApiCall",
    "Channel",
    "Envelope",
    "EphemeralMessage",
    "HomeView",
    "Message",
    "MessageVersion",
    "SlackDriver",
    "SlackFile",
    "SlackStandIn",
    "SlackStandInError",
    "UnknownChannelError",
    "UnknownUserError",
    "User",
    "UserGroup",
    "WaitTimeoutError",
    "Workspace",
    "block_errors",
    "fake_app_token",
    "fake_bot_token",
    "render_blocks",
]
