"""The one door to Slack: a Web API client that redacts everything it is about to post.

Every Web API call the bot makes goes through `RedactingWebClient.api_call`, so a message, an
edit, an ephemeral, a Home tab, a file's title or a text snippet cannot reach Slack without
passing the redactor, whichever listener or helper built it. Only human-readable fields are
touched (`text`, `title`, `alt_text`, ...): ids, button values and URLs stay as they are, so
redaction can never break a button. The client also carries the retry handlers that make the
bot wait out Slack's 429s (honouring `Retry-After`) and reconnect after a dropped connection.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from http import HTTPStatus
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackRequestError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse
from slack_sdk.webhook.async_client import AsyncWebhookClient

from guardrails.redaction import Redactor
from guardrails.secret_patterns import placeholder

logger = logging.getLogger(__name__)

# Keys whose string values people read; everything else (ids, values, URLs, ts) is left alone.
_READABLE = frozenset({"text", "title", "alt_text", "alt_txt", "fallback", "pretext", "initial_comment"})
# Arguments that may arrive JSON-encoded (form or query parameters) rather than as structures.
_JSON_ENCODED = frozenset({"blocks", "attachments", "view", "files"})
# Slack's smallest length limits for each kind of text: a placeholder is longer than what it
# replaces, so a value that was valid before redaction is cut back to stay valid after it.
_MRKDWN_FLOOR = 2000
_PLAIN_FLOOR = 75
_MESSAGE_TEXT_LIMIT = 40_000
RATE_LIMIT_RETRIES = 3
CONNECTION_RETRIES = 2


class RedactingWebClient(AsyncWebClient):
    """`AsyncWebClient` whose outgoing text is redacted; build it with `redacting_client`."""

    def __init__(self, *, redactor: Redactor, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.redactor = redactor

    async def close(self) -> None:
        """Close the connection pool opened by the first call."""
        if self.session is not None:
            await self.session.close()

    async def redact(self, text: str) -> str:
        """`text` as the door would post it, for content drawn into images (chart labels)."""
        return (await asyncio.to_thread(self.redactor.redact, text)).text

    async def api_call(
        self,
        api_method: str,
        *,
        http_verb: str = "POST",
        files: dict[str, Any] | None = None,
        data: Any = None,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        headers: dict[str, Any] | None = None,
        auth: dict[str, Any] | None = None,
    ) -> AsyncSlackResponse:
        if self.session is None:
            # slack_sdk opens (and closes) a TCP connection per call without a session; one pool
            # shared by every call, Bolt's per-request clients included, keeps a burst cheap.
            self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        counts: Counter[str] = Counter()
        if isinstance(data, dict):
            data = await asyncio.to_thread(self._redact_arguments, data, counts)
        if params:
            params = await asyncio.to_thread(self._redact_arguments, params, counts)
        if json:
            json = await asyncio.to_thread(self._redact_arguments, json, counts)
        if counts:
            logger.info("redacted before %s: %s", api_method, dict(counts))
        return await super().api_call(
            api_method,
            http_verb=http_verb,
            files=files,
            data=data,
            params=params,
            json=json,
            headers=headers,
            auth=auth,
        )

    async def respond(self, response_url: str, payload: dict[str, Any]) -> None:
        """Post through a slash command's `response_url` (works where the bot is not a member), redacted."""
        body = await asyncio.to_thread(self._redact_arguments, payload, Counter())
        webhook = AsyncWebhookClient(
            response_url, timeout=self.timeout, session=self.session, retry_handlers=self.retry_handlers
        )
        response = await webhook.send_dict(body)
        if response.status_code != HTTPStatus.OK:
            raise SlackRequestError(f"response_url refused the message: {response.status_code} {response.body}")

    async def files_upload_v2(self, **kwargs: Any) -> AsyncSlackResponse:
        """Text snippets are redacted here: their bytes go to an upload URL, not through `api_call`."""
        content = kwargs.get("content")
        if isinstance(content, str):
            kwargs["content"] = await self.redact(content)
        uploads = kwargs.get("file_uploads")
        if uploads:
            kwargs["file_uploads"] = [
                {**upload, "content": await self.redact(upload["content"])}
                if isinstance(upload.get("content"), str)
                else upload
                for upload in uploads
            ]
        return await super().files_upload_v2(**kwargs)

    def _redact_arguments(self, arguments: dict[str, Any], counts: Counter[str]) -> dict[str, Any]:
        redacted: dict[str, Any] = {}
        for key, value in arguments.items():
            if key in _JSON_ENCODED and isinstance(value, str):
                try:
                    decoded = json.loads(value)
                except ValueError:
                    redacted[key] = value
                    continue
                redacted[key] = json.dumps(self._walk(decoded, counts))
            elif key == "text" and isinstance(value, str):
                redacted[key] = self._text(value, counts, mrkdwn=True, floor=_MESSAGE_TEXT_LIMIT)
            elif key in _READABLE and isinstance(value, str):
                redacted[key] = self._text(value, counts, mrkdwn=False, floor=_MRKDWN_FLOOR)
            else:
                redacted[key] = self._walk(value, counts)
        return redacted

    def _walk(self, value: Any, counts: Counter[str]) -> Any:
        if isinstance(value, list):
            return [self._walk(item, counts) for item in value]
        if not isinstance(value, dict):
            return value
        mrkdwn = value.get("type") == "mrkdwn"
        walked: dict[str, Any] = {}
        for key, item in value.items():
            if key in _READABLE and isinstance(item, str):
                floor = _MRKDWN_FLOOR if mrkdwn else _PLAIN_FLOOR
                walked[key] = self._text(item, counts, mrkdwn=mrkdwn, floor=floor)
            else:
                walked[key] = self._walk(item, counts)
        return walked

    def _text(self, original: str, counts: Counter[str], *, mrkdwn: bool, floor: int) -> str:
        result = self.redactor.redact(original)
        if not result.counts:
            return original
        counts.update(result.counts)
        text = result.text
        if mrkdwn:
            # In mrkdwn "<EMAIL_ADDRESS>" would be read as a link; escaped, it shows as written.
            for entity in result.counts:
                text = text.replace(placeholder(entity), f"&lt;{entity}&gt;")
        limit = max(len(original), floor)
        return text if len(text) <= limit else text[: limit - 1] + "…"


def door(app: AsyncApp) -> RedactingWebClient:
    """The app's client, which must be the redacting one: listeners can only be wired to an app that redacts."""
    client = app.client
    if not isinstance(client, RedactingWebClient):
        raise TypeError("the app's client does not redact: build the app with bot.slack.app.build_app")
    return client


def redacting_client(token: str, base_url: str, redactor: Redactor) -> RedactingWebClient:
    """The bot's client: redaction at the door, 429s waited out, dropped connections retried."""
    return RedactingWebClient(
        redactor=redactor,
        token=token,
        base_url=base_url,
        retry_handlers=[
            AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
            AsyncConnectionErrorRetryHandler(max_retry_count=CONNECTION_RETRIES),
        ],
    )
