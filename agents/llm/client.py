"""The one door every model call goes through: budget, redaction, LiteLLM, fallbacks, audit.

`ModelClient.complete` is the only caller of LiteLLM in the project, so three rules hold for
every request by construction: the budget is checked first, every message is redacted before it
leaves, and every attempt (answered or failed) is written to the audit log with its tokens, cost
and duration, never with its text. LiteLLM is imported on the first call, with its price map
taken from the installed package: the import otherwise fetches it from the internet and costs
seconds at start-up.

A role's fallbacks are tried in order after its model. A fallback of the same provider as the
role's model (`openai/...` after `openai/...`) shares the role's `api_base` and key; one of
another provider uses that provider's standard environment (e.g. OPENAI_API_KEY), as LiteLLM does.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agents.advisor import ModelSkipped
from agents.llm.budget import BUDGET_NOTE, Budget
from agents.llm.settings import ModelSettings, Role, RoleSettings
from guardrails.redaction import Redactor
from guardrails.secret_patterns import scrub_secrets
from store.base import Store
from store.models import AuditEvent, AuditKind

log = logging.getLogger(__name__)

COST_MAP_ENV = "LITELLM_LOCAL_MODEL_COST_MAP"
ERROR_LIMIT = 200
# LiteLLM's own time limit is for the HTTP request; this margin lets it report its own timeout first.
TIMEOUT_MARGIN_S = 1.0

Message = dict[str, Any]


class ModelError(Exception):
    """Every model of a role failed; str() is one line safe to show."""


class ToolCall(BaseModel):
    """A tool call as the model wrote it: the name and arguments may be anything."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    arguments: str = ""


class Completion(BaseModel):
    model_config = ConfigDict(frozen=True)

    model: str
    content: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0


def load_litellm() -> Any:
    """LiteLLM, imported on first use with the bundled price map (no download at import)."""
    os.environ[COST_MAP_ENV] = "True"
    import litellm

    litellm.suppress_debug_info = True
    return litellm


def redact_messages(messages: Sequence[Message], redactor: Redactor) -> list[Message]:
    """The messages as they may leave: every text and every tool-call argument string redacted."""

    def text(value: Any) -> Any:
        return redactor.redact(value).text if isinstance(value, str) else value

    redacted = []
    for message in messages:
        copy = dict(message)
        copy["content"] = text(message.get("content"))
        if message.get("tool_calls"):
            copy["tool_calls"] = [
                {**call, "function": {**call["function"], "arguments": text(call["function"].get("arguments", ""))}}
                for call in message["tool_calls"]
            ]
        redacted.append(copy)
    return redacted


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    line = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return scrub_secrets(line)[0][:ERROR_LIMIT]


def _provider(model: str) -> str:
    return model.split("/", 1)[0] if "/" in model else ""


def _completion(litellm: Any, response: Any, model: str) -> Completion:
    message = response.choices[0].message
    usage = getattr(response, "usage", None)
    try:
        cost = float(litellm.completion_cost(completion_response=response) or 0.0)
    except Exception:
        cost = 0.0
    return Completion(
        model=model,
        content=message.content,
        tool_calls=[
            ToolCall(id=str(call.id), name=str(call.function.name or ""), arguments=str(call.function.arguments or ""))
            for call in message.tool_calls or []
        ],
        tokens_in=int(getattr(usage, "prompt_tokens", 0) or 0),
        tokens_out=int(getattr(usage, "completion_tokens", 0) or 0),
        cost_usd=cost,
    )


class ModelClient:
    def __init__(
        self,
        settings: ModelSettings,
        redactor: Redactor,
        store: Store,
        *,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._settings = settings
        self._redactor = redactor
        self._store = store
        self._environ = os.environ if environ is None else environ
        self._budget = Budget(store, settings.budget, clock)

    def configured(self, role: Role) -> bool:
        return self._settings.role(role) is not None

    def timeout_s(self, role: Role) -> float:
        """The longest one request of the role may take, fallbacks included."""
        settings = self._settings.role(role)
        return 0.0 if settings is None else (settings.timeout_s + TIMEOUT_MARGIN_S) * (1 + len(settings.fallbacks))

    async def complete(
        self,
        role: Role,
        messages: Sequence[Message],
        *,
        question_id: str,
        tools: Sequence[Mapping[str, Any]] = (),
        json_object: bool = False,
    ) -> Completion:
        """The first answer of the role's model or its fallbacks; ModelSkipped when the budget is spent."""
        settings = self._settings.role(role)
        if settings is None:
            raise ModelError(f"no model is configured for {role}")
        if await self._budget.reached(question_id):
            raise ModelSkipped(BUDGET_NOTE)
        redacted = await asyncio.to_thread(redact_messages, messages, self._redactor)
        litellm = await asyncio.to_thread(load_litellm)
        errors: list[str] = []
        for model in [settings.model, *settings.fallbacks]:
            started = time.perf_counter()
            try:
                response = await asyncio.wait_for(
                    litellm.acompletion(**self._request(settings, model, redacted, tools, json_object)),
                    settings.timeout_s + TIMEOUT_MARGIN_S,
                )
                completion = _completion(litellm, response, model)
            except Exception as error:
                failure = f"no answer within {settings.timeout_s:g} s" if _is_timeout(error) else _one_line(error)
                errors.append(f"{model}: {failure}")
                await self._audit(role, model, question_id, started, error=failure)
                continue
            await self._audit(role, model, question_id, started, completion=completion)
            return completion
        raise ModelError(f"every {role} model failed ({'; '.join(errors)})"[:ERROR_LIMIT])

    def _request(
        self,
        settings: RoleSettings,
        model: str,
        messages: list[Message],
        tools: Sequence[Mapping[str, Any]],
        json_object: bool,
    ) -> dict[str, Any]:
        request: dict[str, Any] = {
            "model": model,
            "messages": messages,
            "timeout": settings.timeout_s,
            "max_retries": 0,
            "num_retries": 0,
            "drop_params": True,
        }
        if _provider(model) == _provider(settings.model):
            if settings.api_base:
                request["api_base"] = settings.api_base
            if settings.api_key_env and self._environ.get(settings.api_key_env):
                request["api_key"] = self._environ[settings.api_key_env]
        if tools:
            request["tools"] = list(tools)
        if json_object:
            request["response_format"] = {"type": "json_object"}
        return request

    async def _audit(
        self,
        role: Role,
        model: str,
        question_id: str,
        started: float,
        *,
        completion: Completion | None = None,
        error: str | None = None,
    ) -> None:
        detail: dict[str, Any] = {
            "role": str(role),
            "model": model,
            "question_id": question_id,
            "tokens_in": completion.tokens_in if completion else 0,
            "tokens_out": completion.tokens_out if completion else 0,
            "cost_usd": completion.cost_usd if completion else 0.0,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            "ok": error is None,
        }
        if error is not None:
            detail["error"] = error
        if completion is not None and completion.tool_calls:
            detail["tool_calls"] = [scrub_secrets(call.name[:80])[0] for call in completion.tool_calls]
        try:
            await self._store.record_audit(
                AuditEvent(kind=AuditKind.MODEL_CALL, actor="bot", subject=f"{role} {model}", detail=detail)
            )
        except Exception:
            log.exception("could not audit a model call")


def _is_timeout(error: BaseException) -> bool:
    return isinstance(error, TimeoutError) or "timeout" in type(error).__name__.lower()


def tool_message(call: ToolCall, content: str) -> Message:
    return {"role": "tool", "tool_call_id": call.id, "content": content}


def assistant_message(completion: Completion) -> Message:
    """The model's turn as it goes back into the conversation, tool calls included."""
    message: Message = {"role": "assistant", "content": completion.content}
    if completion.tool_calls:
        message["tool_calls"] = [
            {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
            for call in completion.tool_calls
        ]
    return message


def parse_json_object(text: str | None) -> dict[str, Any] | None:
    """A JSON object from a model's text, tolerating a Markdown code fence around it; None otherwise."""
    if not text:
        return None
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.strip("`").removeprefix("json").strip()
    try:
        value = json.loads(stripped)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
