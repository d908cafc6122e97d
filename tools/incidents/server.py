"""The incidents MCP server: the team's runbooks, and the incidents the bot has logged.

Runbooks come from the project's `runbooks/` and any directory the deployment adds (a world's
`runbooks/`, a team's repository checkout); they are indexed once at start-up. Incidents live in
the bot's store, so every replica and every thread sees the same list.

Run standalone: `python -m tools.incidents.server --runbooks runbooks --store sqlite:////var/lib/whisperer/w.db`.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Sequence
from pathlib import Path
from typing import TypeVar

from mcp.server.mcpserver import MCPServer

from guardrails.secret_patterns import scrub_secrets
from store import Incident, IncidentStatus, Store, StoreError, open_store
from tools.health import Health
from tools.incidents.models import (
    IncidentList,
    IncidentRecord,
    IncidentSeverity,
    IncidentStatusName,
    Runbook,
    RunbookHits,
)
from tools.incidents.runbook_index import RunbookIndex, RunbookNotFound, RunbookRefused
from tools.standalone import parse_args, serve_from_args, transport_options
from tools.tool_errors import ToolFailure, one_line_errors

PROJECT_RUNBOOKS = Path(__file__).resolve().parents[2] / "runbooks"
INSTRUCTIONS = (
    "Runbooks and incidents. search_runbooks with the symptom as it appears (CrashLoopBackOff, OOMKilled, "
    "'connection pool exhausted', an alert name) finds the runbook to follow; get_runbook reads it whole. "
    "log_incident records an incident the team is working on; list_incidents and get_incident read them back."
)
MAX_SEARCH_RESULTS = 20
MAX_INCIDENTS = 200
T = TypeVar("T")


def build_server(runbook_dirs: Sequence[Path], store: Store) -> MCPServer:
    """An MCP server named "incidents"; `store` stays open for the server's life (the caller closes it)."""
    server = MCPServer("incidents", instructions=INSTRUCTIONS)
    index = RunbookIndex.from_dirs(runbook_dirs)

    @server.tool(description="Whether the runbook index has runbooks and the incident store answers.")
    @one_line_errors
    async def health() -> Health:
        started = time.perf_counter()
        try:
            store_ok = await store.health()
        except StoreError as error:
            raise ToolFailure(str(error)) from None
        count = len(index.runbooks)
        problems = [text for ok, text in ((count > 0, "no runbooks found"), (store_ok, "store unreachable")) if not ok]
        return Health(
            source="incidents",
            ok=not problems,
            detail="; ".join(problems) or f"{count} runbooks indexed; store answers",
            latency_ms=round((time.perf_counter() - started) * 1000, 1),
        )

    @server.tool(
        description=(
            "Find runbooks for a symptom or topic, best match first, with the passage that matched. Put the "
            "symptom as it appears in the query: a Kubernetes reason (CrashLoopBackOff, OOMKilled, ImagePullBackOff), "
            "an alert name, an error message, or a few words ('database connection pool exhaustion')."
        )
    )
    @one_line_errors
    async def search_runbooks(query: str, limit: int = 5) -> RunbookHits:
        if not 1 <= limit <= MAX_SEARCH_RESULTS:
            raise ToolFailure(f"limit must be between 1 and {MAX_SEARCH_RESULTS}")
        return RunbookHits(query=query, hits=index.search(query, limit))

    @server.tool(
        description=(
            "The whole markdown of one runbook, by the `path` search_runbooks returned, its file name, or its exact "
            "title. Only indexed runbooks can be read."
        )
    )
    @one_line_errors
    async def get_runbook(path_or_title: str) -> Runbook:
        try:
            return index.get(path_or_title)
        except (RunbookNotFound, RunbookRefused) as error:
            raise ToolFailure(str(error)) from None

    @server.tool(
        description=(
            "Record a new open incident: a short title, the affected service, severity (critical, warning or info), "
            "a summary of what is known, and the Slack channel and thread it is being handled in. Returns it with "
            "its id."
        )
    )
    @one_line_errors
    async def log_incident(
        title: str,
        service: str,
        severity: IncidentSeverity,
        summary: str = "",
        channel: str | None = None,
        thread_ts: str | None = None,
    ) -> IncidentRecord:
        if not title.strip() or not service.strip():
            raise ToolFailure("an incident needs a title and a service")
        incident = Incident(
            title=_clean(title),
            service=service.strip(),
            severity=severity,
            summary=_clean(summary),
            channel=channel,
            thread_ts=thread_ts,
        )
        return IncidentRecord.of(await _stored(store.create_incident(incident)))

    @server.tool(description="Incidents newest first, optionally only open or resolved ones and only one service's.")
    @one_line_errors
    async def list_incidents(
        status: IncidentStatusName | None = None, service: str | None = None, limit: int = 20
    ) -> IncidentList:
        if not 1 <= limit <= MAX_INCIDENTS:
            raise ToolFailure(f"limit must be between 1 and {MAX_INCIDENTS}")
        wanted = IncidentStatus(status) if status else None
        incidents = await _stored(store.list_incidents(status=wanted, service=service, limit=limit))
        return IncidentList(incidents=[IncidentRecord.of(incident) for incident in incidents])

    @server.tool(description="One incident by the id log_incident or list_incidents gave.")
    @one_line_errors
    async def get_incident(id: str) -> IncidentRecord:
        incident = await _stored(store.get_incident(id))
        if incident is None:
            raise ToolFailure(f"no incident with id {id!r}")
        return IncidentRecord.of(incident)

    return server


def _clean(text: str) -> str:
    """Free text a model wrote, without anything shaped like a credential: the store outlives the thread."""
    return scrub_secrets(text.strip())[0]


async def _stored(operation: Awaitable[T]) -> T:
    try:
        return await operation
    except StoreError as error:
        raise ToolFailure(str(error)) from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.incidents.server", description=__doc__, parents=[transport_options()]
    )
    parser.add_argument(
        "--runbooks",
        action="append",
        type=Path,
        default=[],
        metavar="DIR",
        help=f"a runbook directory (repeatable); default: {PROJECT_RUNBOOKS}",
    )
    parser.add_argument(
        "--store",
        default="sqlite:///:memory:",
        help="store URL: sqlite:///abs/path.db or postgresql://...; default: in memory (forgotten on exit)",
    )
    args = parse_args(parser, argv)

    async def run() -> None:
        async with await open_store(args.store) as store:
            await serve_from_args(build_server(args.runbooks or [PROJECT_RUNBOOKS], store), args)

    try:
        asyncio.run(run())
    except StoreError as error:
        parser.exit(2, f"{parser.prog}: {error}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
