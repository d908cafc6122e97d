"""`make bench`: runs every benchmark, prints the table, writes bench/results.json."""

from __future__ import annotations

import asyncio

from bench import cert_bench, sandbox_bench
from bench.report import Figure, print_table, write_results


async def collect() -> list[Figure]:
    return [*await sandbox_bench.run(), *await cert_bench.run()]


def main() -> None:
    figures = asyncio.run(collect())
    print_table(figures)
    write_results(figures)


if __name__ == "__main__":
    main()
