"""A scripted model behind a local OpenAI-compatible endpoint, reached by LiteLLM like any provider.

Each model name (what LiteLLM sends after `openai/`) gets a `Reply`: a function from the request
body to the assistant message to answer with, or an awaitable one that may sleep past a time
limit. Every request is kept, so tests can read exactly what left the bot.
"""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

Message = dict[str, Any]
Reply = Callable[[dict[str, Any]], Awaitable[Message]]
STUB_KEY_ENV = "WHISPERER_TEST_MODEL_KEY"
STUB_KEY = "stub-model-key-0123"


def tokens(value: Any) -> int:
    """The stub's token count: a quarter of the JSON's characters, the usual rule of thumb."""
    return len(json.dumps(value)) // 4


def final(explanation: str, suggestions: list[dict[str, Any]] | None = None) -> Message:
    return {"role": "assistant", "content": json.dumps({"explanation": explanation, "suggestions": suggestions or []})}


def calls(*pairs: tuple[str, str]) -> Message:
    """Tool calls, given as (name, raw JSON arguments) so a test can send malformed ones."""
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": f"call-{index}", "type": "function", "function": {"name": name, "arguments": arguments}}
            for index, (name, arguments) in enumerate(pairs)
        ],
    }


def scripted(*messages: Message) -> Reply:
    """Answers with the messages in turn, then with the last one again."""
    queue = list(messages)

    async def reply(body: dict[str, Any]) -> Message:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return reply


def constant(message: Message) -> Reply:
    return scripted(message)


class StubModel:
    def __init__(self) -> None:
        self.replies: dict[str, Reply] = {}
        self.requests: list[dict[str, Any]] = []
        self.keys: set[str] = set()

    def script(self, replies: Mapping[str, Reply]) -> None:
        self.replies = dict(replies)
        self.requests.clear()

    def sent_to(self, model: str) -> list[dict[str, Any]]:
        return [body for body in self.requests if body["model"] == model]

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        self.keys.add(request.headers.get("Authorization", ""))
        reply = self.replies.get(body["model"])
        if reply is None:
            return web.json_response({"error": {"message": f"no model {body['model']}"}}, status=404)
        message = await reply(body)
        return web.json_response(
            {
                "id": f"chatcmpl-{len(self.requests)}",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "finish_reason": "tool_calls" if "tool_calls" in message else "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": tokens(body["messages"]),
                    "completion_tokens": tokens(message),
                    "total_tokens": tokens(body["messages"]) + tokens(message),
                },
            }
        )

    @contextlib.asynccontextmanager
    async def serve(self) -> AsyncIterator[str]:
        """Serves on 127.0.0.1 and yields the api_base to configure (`http://127.0.0.1:PORT/v1`)."""
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._handle)
        runner = web.AppRunner(app)
        await runner.setup()
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        await web.SockSite(runner, listener).start()
        try:
            yield f"http://127.0.0.1:{port}/v1"
        finally:
            await runner.cleanup()


def models_config(api_base: str, **overrides: Any) -> dict[str, Any]:
    """The `models:` section for the stub: triage, analysis (with a fallback) and quarantine."""

    def role(model: str, **more: Any) -> dict[str, Any]:
        return {"model": model, "api_base": api_base, "api_key_env": STUB_KEY_ENV, "timeout_s": 5, **more}

    return {
        "triage": role("openai/triage"),
        "analysis": role("openai/analysis", fallbacks=["openai/analysis-fallback"]),
        "quarantine": role("openai/quarantine"),
        **overrides,
    }
