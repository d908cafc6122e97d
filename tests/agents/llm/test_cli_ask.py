"""The contract's `whisperer ask` with a configured (scripted) model: an open question answered with tools."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import yaml

from tests.agents.llm.conftest import reader
from tests.agents.llm.stub import STUB_KEY, STUB_KEY_ENV, StubModel, calls, constant, final, models_config
from tests.bot.test_cli import WHISPERER


async def test_whisperer_ask_answers_an_open_question_through_the_models_tool_calls(tmp_path: Path) -> None:
    stub = StubModel()

    async def planner(body: dict[str, Any]) -> dict[str, Any]:
        if not [m for m in body["messages"] if m.get("role") == "tool"]:
            return calls(("kubernetes__list_pods", '{"namespace": "shop"}'))
        return final("payment-service restarts most: both of its pods are crash-looping.")

    stub.script({"quarantine": reader, "analysis": planner, "triage": constant(final("unused"))})
    async with stub.serve() as api_base:
        config = tmp_path / "whisperer.yaml"
        config.write_text(yaml.safe_dump({"models": models_config(api_base)}), encoding="utf-8")
        env = {**os.environ, STUB_KEY_ENV: STUB_KEY}
        process = await asyncio.create_subprocess_exec(
            str(WHISPERER), "ask", "--config", str(config), "--world", "payment-outage", "--json",
            "which service has the most restarts this week?",
            env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        stdout, stderr = await asyncio.wait_for(process.communicate(), 120)

    assert process.returncode == 0, stderr.decode()[-2000:]
    answer = json.loads(stdout)
    assert "payment-service restarts most" in answer["answer"]
    assert stub.sent_to("analysis"), "the planner was asked"
    assert any("kubernetes__list_pods" in json.dumps(body) for body in stub.sent_to("analysis"))
