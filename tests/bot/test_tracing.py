"""Traces of a question: one span per question, a child per specialist, a grandchild per tool call, no data."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agents.question import Question
from bot.session import command_runtime

ASKED = "Why is payment-service failing? Reply to maria.gonzalez@example.com"


@pytest.fixture(scope="module")
def exported() -> Iterator[InMemorySpanExporter]:
    """The process-wide provider can be set only once, so this module installs it for the whole test run."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    yield exporter
    provider.shutdown()


def _python(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip()


async def test_a_question_is_one_trace_of_specialists_and_their_tool_calls(exported: InMemorySpanExporter) -> None:
    exported.clear()
    async with command_runtime(None, "payment-outage") as runtime:
        answer = await runtime.assistant.ask(Question(text=ASKED, user="U_ALICE", channel="#incident-payments"))
    [question] = [span for span in exported.get_finished_spans() if span.name == "question"]
    assert question.context is not None and question.parent is None
    # Tool calls outside any question (start-up health checks) are traces of their own.
    spans = [span for span in exported.get_finished_spans() if span.context.trace_id == question.context.trace_id]
    specialists = [span for span in spans if span.name == "specialist"]
    calls = [span for span in spans if span.name == "tool_call"]

    def parent(span: ReadableSpan) -> int | None:
        return span.parent.span_id if span.parent is not None else None

    assert {parent(span) for span in specialists} == {question.context.span_id}
    assert {"kubernetes", "changes", "runbooks"} <= {span.attributes["whisperer.source"] for span in specialists}
    by_id = {span.context.span_id: span for span in specialists if span.context}
    assert calls and all(parent(call) in by_id for call in calls), "every tool call belongs to a specialist"
    assert {("kubernetes", True)} <= {(c.attributes["whisperer.server"], c.attributes["whisperer.ok"]) for c in calls}
    assert all(call.attributes["whisperer.duration_ms"] >= 0 for call in calls)
    assert question.attributes["whisperer.findings"] == len(answer.findings) > 0
    assert question.attributes["whisperer.proposals"] == len(answer.proposals) > 0
    assert question.attributes["whisperer.refused"] is False
    assert "diagnose" in question.attributes["whisperer.intents"]
    values = [str(value) for span in spans for value in (span.attributes or {}).values()]
    assert not [value for value in values if "payment-service failing" in value or "@" in value]


def test_without_tracing_enabled_nothing_loads_the_sdk() -> None:
    loaded = _python(
        """
        import sys
        from bot.config import Config
        from bot.observability.tracing import configure_tracing

        assert configure_tracing(Config()) is None
        print(sorted(m for m in sys.modules if m.startswith(("opentelemetry.sdk", "opentelemetry.exporter"))))
        """
    )
    assert loaded == "[]"


def test_enabled_tracing_sends_the_spans_to_the_otlp_endpoint_on_shutdown() -> None:
    received = _python(
        """
        import threading
        from http.server import BaseHTTPRequestHandler, HTTPServer

        from agents.router import tracer
        from bot.config import Config
        from bot.observability.tracing import configure_tracing

        bodies = []

        class Collector(BaseHTTPRequestHandler):
            def do_POST(self):
                bodies.append((self.path, self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        server = HTTPServer(("127.0.0.1", 0), Collector)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_port}/v1/traces"
        provider = configure_tracing(Config(tracing={"enabled": True, "otlp_endpoint": url, "service_name": "wh-test"}))
        with tracer.start_as_current_span("specialist"):
            pass
        provider.shutdown()
        print([(path, b"wh-test" in body, b"specialist" in body) for path, body in bodies])
        """
    )
    assert received == "[('/v1/traces', True, True)]"
