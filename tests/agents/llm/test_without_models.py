"""Without a configured model the bot answers exactly as before and never loads LiteLLM."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ASK = """
import asyncio, json, sys
from agents.question import Question
from bot.session import command_runtime

async def main() -> None:
    async with command_runtime(None, "payment-outage") as runtime:
        answer = await runtime.assistant.ask(Question(text="which service has the most restarts this week?"))
    print(json.dumps({"litellm": "litellm" in sys.modules, "view": answer.contract_view()}))

asyncio.run(main())
"""


def test_a_model_less_ask_never_imports_litellm(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "WHISPERER_CONFIG"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[3])
    done = subprocess.run(
        [sys.executable, "-c", ASK], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=True
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["litellm"] is False
    assert "CrashLoopBackOff" in result["view"]["answer"]
    assert "model" not in {failure["source"] for failure in result["view"]["sources_failed"]}
