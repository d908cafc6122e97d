"""The changes MCP server: what was merged and deployed, so a symptom can be laid next to its cause.

Reads GitHub (or GitHub Enterprise) through PyGithub: merged pull requests with the exact lines
their patches added (`file:line`, for patterns such as a query inside a loop) and GitHub
Deployments (service, namespace, image, the pull request shipped). A repository that cannot be
read is named in the answer; the others are still reported.

Run standalone: `GITHUB_TOKEN=... python -m tools.changes.server --repo acme/payments --service payments=acme/payments`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from mcp.server.mcpserver import MCPServer

from tools.changes.client import GithubClient, GithubUnavailable
from tools.changes.models import GITHUB_API, ChangeList, DeployChange, GithubTarget, PullRequest, PullRequestChange
from tools.health import Health
from tools.standalone import parse_args, serve_from_args, transport_options
from tools.tool_errors import ToolFailure, one_line_errors

INSTRUCTIONS = (
    "Code changes and deploys from GitHub. recent_changes lists pull requests merged and deploys made in a time "
    "window (default: the last 24 hours), with the lines each patch added as file:line; compare their times with "
    "when a symptom started. get_pull_request reads one pull request in full."
)
MAX_WINDOW_HOURS = 24 * 90


def build_server(github: GithubTarget, repos: Sequence[str], services: Mapping[str, str] | None = None) -> MCPServer:
    """An MCP server named "changes" over `repos` ("owner/name").

    `services` maps a service name to its repository, so `recent_changes(service=...)` knows where
    to look and deployments without a service in their payload are attributed; its repositories
    are readable as well.
    """
    server = MCPServer("changes", instructions=INSTRUCTIONS)
    by_service = dict(services or {})
    configured = list(dict.fromkeys([*repos, *by_service.values()]))
    client = GithubClient(github, by_service)

    def known_repo(repo: str) -> str:
        for name in configured:
            if name.lower() == repo.strip().lower():
                return name
        raise ToolFailure(f"repository {repo!r} is not configured; configured: {', '.join(configured) or 'none'}")

    def repos_for(repo: str | None, service: str | None) -> list[str]:
        if repo is not None:
            return [known_repo(repo)]
        if service is not None:
            if service not in by_service:
                raise ToolFailure(f"unknown service {service!r}; known services: {', '.join(by_service) or 'none'}")
            return [by_service[service]]
        if not configured:
            raise ToolFailure("no repositories are configured")
        return configured

    @server.tool(
        description="Whether GitHub answers with the configured token, and whether every repository is readable."
    )
    @one_line_errors
    async def health() -> Health:
        started = time.perf_counter()
        try:
            budget = await asyncio.to_thread(client.rate_limit)
        except GithubUnavailable as error:
            return Health(source="changes", ok=False, detail=str(error))
        checks = await asyncio.gather(
            *(asyncio.to_thread(client.check_repo, repo) for repo in configured), return_exceptions=True
        )
        failed = [str(check) for check in checks if isinstance(check, GithubUnavailable)]
        for check in checks:
            if isinstance(check, BaseException) and not isinstance(check, GithubUnavailable):
                raise check
        return Health(
            source="changes",
            ok=not failed,
            detail="; ".join(failed) or f"GitHub answers ({budget}); {len(configured)} repositories readable",
            latency_ms=round((time.perf_counter() - started) * 1000, 1),
        )

    @server.tool(
        description=(
            "Pull requests merged and deploys made in a time window, newest first: each pull request with author, "
            "merged_at, url and its files with the added lines (line numbers in the new file) and removed lines; each "
            "deploy with service, namespace, image, time and the pull request it shipped. Narrow by `repo` "
            "('owner/name') or `service`; `since_hours` is the window's length (default 24) ending at `until` (ISO "
            "8601, default now)."
        )
    )
    @one_line_errors
    async def recent_changes(
        repo: str | None = None, service: str | None = None, since_hours: float = 24, until: str | None = None
    ) -> ChangeList:
        if not 0 < since_hours <= MAX_WINDOW_HOURS:
            raise ToolFailure(f"since_hours must be above 0 and at most {MAX_WINDOW_HOURS}")
        end = _parse_time(until) if until else datetime.now(UTC)
        start = end - timedelta(hours=since_hours)
        wanted = repos_for(repo, service)
        results = await asyncio.gather(
            *(_changes_of(client, name, start, end) for name in wanted), return_exceptions=True
        )
        pulls: list[PullRequestChange] = []
        deploys: list[DeployChange] = []
        failed: dict[str, str] = {}
        for name, result in zip(wanted, results, strict=True):
            if isinstance(result, GithubUnavailable):
                failed[name] = str(result)
            elif isinstance(result, BaseException):
                raise result
            else:
                pulls += result[0]
                deploys += [deploy for deploy in result[1] if service is None or deploy.service == service]
        if len(failed) == len(wanted):
            raise ToolFailure("; ".join(failed.values()))
        return ChangeList(
            since=start,
            until=end,
            repos=[name for name in wanted if name not in failed],
            pull_requests=sorted(pulls, key=lambda pull: pull.merged_at, reverse=True),
            deploys=sorted(deploys, key=lambda deploy: deploy.at, reverse=True),
            failed_repos=failed,
        )

    @server.tool(
        description=(
            "One pull request in full: state, merged_at (null if not merged), description, files with the added lines "
            "(new-file line numbers) and removed lines."
        )
    )
    @one_line_errors
    async def get_pull_request(repo: str, number: int) -> PullRequest:
        name = known_repo(repo)
        try:
            return await asyncio.to_thread(client.pull_request, name, number)
        except GithubUnavailable as error:
            raise ToolFailure(str(error)) from None

    return server


async def _changes_of(
    client: GithubClient, repo: str, since: datetime, until: datetime
) -> tuple[list[PullRequestChange], list[DeployChange]]:
    pulls = await asyncio.to_thread(client.merged_pull_requests, repo, since, until)
    merge_commits = {pull.merge_commit_sha: pull.number for pull in pulls if pull.merge_commit_sha}
    deploys = await asyncio.to_thread(client.deploys, repo, since, until, merge_commits)
    return pulls, deploys


def _parse_time(text: str) -> datetime:
    """An ISO 8601 time; one without a zone is UTC, as everywhere in the bot."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ToolFailure(f"until must be an ISO 8601 time such as 2026-11-20T14:00:00Z, not {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _service_entries(entries: Sequence[str]) -> dict[str, str]:
    services: dict[str, str] = {}
    for entry in entries:
        name, separator, repo = entry.partition("=")
        if not separator or not name.strip() or "/" not in repo:
            raise ValueError(f"--service {entry!r} is not NAME=owner/repo")
        services[name.strip()] = repo.strip()
    return services


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.changes.server", description=__doc__, parents=[transport_options()]
    )
    parser.add_argument("--github-url", default=GITHUB_API, help="API root; GitHub Enterprise: https://HOST/api/v3")
    parser.add_argument("--token-env", default="GITHUB_TOKEN", help="variable holding the token (default GITHUB_TOKEN)")
    parser.add_argument("--repo", action="append", default=[], metavar="OWNER/NAME", help="repeatable")
    parser.add_argument("--service", action="append", default=[], metavar="NAME=OWNER/REPO", help="repeatable")
    args = parse_args(parser, argv)
    try:
        services = _service_entries(args.service)
    except ValueError as error:
        parser.error(str(error))
    target = GithubTarget(base_url=args.github_url, token=os.environ.get(args.token_env) or None)
    asyncio.run(serve_from_args(build_server(target, args.repo, services), args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
