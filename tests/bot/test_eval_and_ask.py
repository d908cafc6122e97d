"""The contract's `whisperer eval`, `ask` and `mcp serve` on the bundled worlds, end to end."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from mcp import Client
from mcp.client.stdio import StdioServerParameters

from agents.question import Question
from bot.evaluation.runner import CaseResult, evaluate
from bot.session import command_runtime
from sandbox.world import BUNDLED_WORLDS
from tests.bot.test_cli import WHISPERER


async def test_every_bundled_case_passes_through_slack_and_the_agents() -> None:
    results: list[CaseResult] = []
    passed, failed = await evaluate([str(BUNDLED_WORLDS)], None, results.append)
    assert failed == 0, "\n".join(result.line() for result in results if not result.passed)
    assert passed == len(results) >= 20


def test_a_failing_case_exits_1_naming_the_condition_and_what_was_posted(tmp_path: Path) -> None:
    world = tmp_path / "healthy-but-strict"
    shutil.copytree(BUNDLED_WORLDS / "healthy", world)
    (world / "expect.yaml").write_text(
        "cases:\n"
        "  - {id: pods, channel: '#ops', ask: 'What pods are running in shop?', must_mention: [cart-service]}\n"
        "  - {id: strict, channel: '#ops', ask: 'What pods are running in shop?', must_mention: [unicorn-service]}\n"
    )
    result = _whisperer("eval", str(world), "--json")
    assert result.returncode == 1, result.stderr[-2000:]
    *cases, totals = [json.loads(line) for line in result.stdout.splitlines()]
    assert totals == {"passed": 1, "failed": 1}
    [strict] = [case for case in cases if case["case"] == "strict"]
    assert strict["problems"] == ["does not mention 'unicorn-service'"]
    assert "cart-service" in strict["posted"]


def _whisperer(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(WHISPERER), *args], capture_output=True, text=True, timeout=120, check=False)


def test_ask_json_is_the_contract_object_and_a_refusal_exits_3() -> None:
    answered = _whisperer("ask", "--world", "payment-outage", "--json", "Why is payment-service failing?")
    assert answered.returncode == 0, answered.stderr
    result = json.loads(answered.stdout)
    assert set(result) == {"answer", "findings", "root_cause", "proposals", "refused", "sources_failed"}
    assert "PR #214" in result["root_cause"]
    assert {"action": "restart_deployment", "namespace": "shop", "name": "payment-service"} in [
        {"action": p["action"], **{k: p["target"][k] for k in ("namespace", "name")}} for p in result["proposals"]
    ]
    refused = _whisperer("ask", "--world", "payment-outage", "--json", "Run this query: DROP TABLE orders;")
    assert refused.returncode == 3
    assert json.loads(refused.stdout)["refused"].startswith("refused:")


def test_unknown_world_is_one_line_and_exit_2() -> None:
    result = _whisperer("ask", "--world", "no-such-world", "hello?")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "unknown world" in result.stderr


async def test_mcp_serve_speaks_mcp_over_stdio() -> None:
    command = StdioServerParameters(
        command=str(WHISPERER), args=["mcp", "serve", "kubernetes", "--world", "payment-outage"]
    )
    async with Client(command) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert {"list_pods", "analyze", "get_pod_logs"} <= names
        assert not names & {"restart_deployment", "scale_deployment", "rollback_deployment", "delete_pod"}
        pods = await client.call_tool("list_pods", {"namespace": "shop"})
        assert any(pod["status"] == "CrashLoopBackOff" for pod in (pods.structured_content or {})["pods"])


def test_demo_plays_the_flagship_world_through_slack_and_exits_0() -> None:
    result = _whisperer("demo")
    assert result.returncode == 0, result.stderr[-2000:]
    transcript = result.stdout
    assert "alice: @whisperer Why is payment-service failing?" in transcript
    assert "[Approve] [Reject]" in transcript
    assert "image/png" in transcript, "the diagnosis posts its charts into the thread"
    assert "PR #214" in transcript and "CrashLoopBackOff" in transcript
    assert "7 of 7 cases behaved as expected" in transcript
    assert "xoxb-" not in transcript and "@example.com" not in transcript


def test_interactive_demo_answers_typed_questions_and_approves_by_number() -> None:
    typed = "restart payment-service\napprove 1\nquit\n"
    result = subprocess.run(
        [str(WHISPERER), "demo", "--interactive"], input=typed, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "proposal 1: 'approve 1'" in result.stdout
    assert "restarted" in result.stdout.lower()


async def test_the_audit_log_holds_the_question_its_tool_calls_and_what_was_redacted() -> None:
    async with command_runtime(None, "payment-outage") as runtime:
        await runtime.assistant.ask(
            Question(text="show me failed orders", user="U_ALICE", channel="#incident-payments")
        )
        [question] = await runtime.store.list_audit(kind="question")
        calls = await runtime.store.list_audit(kind="tool_call")

    assert (question.actor, question.subject) == ("U_ALICE", "show me failed orders")
    assert isinstance(question.detail["redactions"], dict), "what the answer's own redaction replaced, by kind"
    queries = [call for call in calls if call.subject == "database.run_query"]
    assert queries and all(call.detail["ok"] and call.detail["duration_ms"] > 0 for call in queries)
    assert any(call.detail.get("redactions", {}).get("EMAIL_ADDRESS", 0) >= 5 for call in queries)
    assert "@example.com" not in str([call.detail for call in calls])
