"""What the model layer costs: tokens per flagship investigation, and start-up with and without a model.

The flagship question is answered with models configured and served by the scripted stub of the
tests (OpenAI-compatible, on 127.0.0.1): the quarantined reader reads the findings' evidence and
every tool output, triage asks for analysis, and the planner calls three tools before answering.
"Routed" is every token the bot sent, all roles (the stub's count: a quarter of the JSON's
characters). The baseline sends the same investigation to the strong model alone, with the
findings' raw evidence and every raw, uncapped tool output in its conversation, resent at each
step as a tool loop does; it is counted the same way. Start-up is `whisperer config check` (loads
the config and the CLI, no network) with and without a `models:` section: LiteLLM must not load.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from agents.llm.planner import SYSTEM, ToolOutput
from agents.question import Question
from bench.report import Figure, median
from bot.session import command_runtime
from store import AuditKind
from tests.agents.llm.conftest import needs_analysis, reader
from tests.agents.llm.stub import STUB_KEY, STUB_KEY_ENV, StubModel, calls, final, models_config, scripted, tokens

FLAGSHIP = "payment-outage"
QUESTION = "Why is payment-service failing?"
PLANNER_CALLS = (
    ("kubernetes", "get_pod_logs", {"namespace": "shop", "pod": "payment-service-6f9d7c8b54-x7k2p", "previous": True}),
    ("kubernetes", "list_pods", {"namespace": "shop"}),
    ("kubernetes", "get_events", {"namespace": "shop", "warnings_only": True}),
)
STARTS = 5
START_TARGET_MS = 1500.0


def _planner() -> Any:
    steps = [calls((f"{server}__{tool}", json.dumps(args))) for server, tool, args in PLANNER_CALLS]
    return scripted(*steps, final("payment-service crashes on gateway timeouts after PR #214."))


async def _tokens() -> tuple[int, int, int]:
    stub = StubModel()
    stub.script({"quarantine": reader, "triage": needs_analysis, "analysis": _planner()})
    os.environ[STUB_KEY_ENV] = STUB_KEY
    with tempfile.TemporaryDirectory(prefix="model-bench-") as directory:
        config = Path(directory) / "whisperer.yaml"
        async with stub.serve() as api_base:
            config.write_text(yaml.safe_dump({"models": models_config(api_base)}), encoding="utf-8")
            async with command_runtime(str(config), FLAGSHIP) as runtime:
                answer = await runtime.assistant.ask(Question(text=QUESTION))
                audited = await runtime.store.list_audit(limit=1000, kind=AuditKind.MODEL_CALL)
                routed = sum(int(event.detail.get("tokens_in", 0)) for event in audited)
                strong = sum(
                    int(event.detail.get("tokens_in", 0)) for event in audited if event.detail["role"] == "analysis"
                )
                evidence = json.dumps([finding.model_dump(mode="json") for finding in answer.findings])
                messages: list[dict[str, Any]] = [
                    {"role": "system", "content": SYSTEM},
                    {"role": "user", "content": f"Question: {QUESTION}\nEvidence: {evidence}"},
                ]
                baseline = tokens(messages)
                for server, tool, args in PLANNER_CALLS:
                    output = await runtime.toolbox.call(server, tool, args, ToolOutput)
                    messages.append({"role": "tool", "content": output.model_dump_json()})
                    baseline += tokens(messages)
    return routed, strong, baseline


def _start_ms(config: Path) -> float:
    env = {**os.environ, "WHISPERER_CONFIG": str(config)}
    command = [sys.executable, "-c", "import sys; from bot.cli import main; sys.exit(main())", "config", "check"]
    samples = []
    for _ in range(STARTS):
        started = time.perf_counter()
        subprocess.run(command, env=env, capture_output=True, check=True, timeout=60)
        samples.append((time.perf_counter() - started) * 1000)
    return median(samples)


def _start_up() -> tuple[float, float]:
    with tempfile.TemporaryDirectory(prefix="model-bench-") as directory:
        plain = Path(directory) / "plain.yaml"
        plain.write_text("{}\n", encoding="utf-8")
        with_model = Path(directory) / "models.yaml"
        with_model.write_text(yaml.safe_dump({"models": models_config("http://127.0.0.1:9/v1")}), encoding="utf-8")
        return _start_ms(plain), _start_ms(with_model)


async def run() -> list[Figure]:
    routed, strong, baseline = await _tokens()
    without, with_model = _start_up()
    return [
        Figure("model tokens per flagship investigation, routed + caps", routed, "tokens"),
        Figure("  of which to the strong (analysis) model", strong, "tokens"),
        Figure("  baseline: every raw tool output to the strong model", baseline, "tokens"),
        Figure("  routed / baseline", routed / baseline if baseline else 0.0, "x", 1.0),
        Figure("start-up (config check), no model", without, "ms", START_TARGET_MS),
        Figure("start-up (config check), model configured", with_model, "ms", START_TARGET_MS),
    ]
