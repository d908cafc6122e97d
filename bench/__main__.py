"""`make bench`: runs every benchmark, prints the table, writes bench/results.json and bench/latency.png."""

from __future__ import annotations

import asyncio
import logging

from bench import (
    answer_bench,
    cert_bench,
    guardrails_bench,
    mcp_bench,
    model_bench,
    run_bench,
    sandbox_bench,
    slack_bench,
)
from bench.report import Figure, print_table, write_results


async def collect() -> list[Figure]:
    return [
        *await sandbox_bench.run(),
        *await run_bench.run(),
        *await cert_bench.run(),
        *await slack_bench.run(),
        *await answer_bench.run(),
        *await mcp_bench.run(),
        *await guardrails_bench.run(),
        *await model_bench.run(),
    ]


def main() -> None:
    # Set before any MCP server is built: MCPServer otherwise installs an INFO handler on the root
    # logger, and every tool call and HTTP request would print a line among the figures.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # sqlglot warns about each statement of the refused SQL corpus it cannot parse; refusing them is the point.
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    figures = asyncio.run(collect())
    print_table(figures)
    write_results(figures)


if __name__ == "__main__":
    main()
