"""The changes MCP server: merged pull requests and deploys of a service's repository, via PyGithub.

GitHub Enterprise works by pointing `base_url` at its API. PyGithub is blocking, so every call
runs in a thread. A repository that cannot be read is reported by name, not fatal.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated

from github import Auth, Github, GithubException
from mcp.server.mcpserver import MCPServer
from pydantic import Field

from tools.changes.models import AddedCode, ChangeList, DeployChange, FileChange, PullRequestChange
from tools.changes.patches import added_lines
from tools.health import Health
from tools.standalone import parse_args, serve_from_args, transport_options
from tools.tool_errors import ToolFailure, one_line_errors

SOURCE = "changes"
MAX_PULLS_SCANNED = 100
MAX_FILES = 30
MAX_ADDED_LINES = 200


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class GithubChanges:
    def __init__(self, base_url: str, token: str | None) -> None:
        self._github = Github(base_url=base_url, auth=Auth.Token(token) if token else None, retry=None, timeout=10)

    def ping(self) -> str:
        remaining, limit = self._github.rate_limiting
        return f"rate limit {remaining}/{limit}"

    def pull_requests(self, repo_name: str, since: datetime) -> list[PullRequestChange]:
        repo = self._github.get_repo(repo_name)
        found: list[PullRequestChange] = []
        for scanned, pull in enumerate(repo.get_pulls(state="closed", sort="updated", direction="desc")):
            if scanned >= MAX_PULLS_SCANNED or (pull.updated_at and _aware(pull.updated_at) < since):
                break
            if pull.merged_at is None or _aware(pull.merged_at) < since:
                continue
            files = [
                FileChange(
                    filename=changed.filename,
                    additions=changed.additions,
                    deletions=changed.deletions,
                    added=[AddedCode(line=n, text=t) for n, t in added_lines(changed.patch or "")[:MAX_ADDED_LINES]],
                )
                for changed in list(pull.get_files())[:MAX_FILES]
            ]
            found.append(
                PullRequestChange(
                    repo=repo_name,
                    number=pull.number,
                    title=pull.title,
                    author=pull.user.login if pull.user else None,
                    merged_at=_aware(pull.merged_at),
                    url=pull.html_url,
                    files=files,
                )
            )
        return found

    def deploys(self, repo_name: str, since: datetime) -> list[DeployChange]:
        repo = self._github.get_repo(repo_name)
        found: list[DeployChange] = []
        for deployment in repo.get_deployments():
            at = _aware(deployment.created_at)
            if at < since:
                continue
            payload = deployment.payload if isinstance(deployment.payload, dict) else {}
            found.append(
                DeployChange(
                    repo=repo_name,
                    service=payload.get("service"),
                    namespace=payload.get("namespace") or deployment.environment,
                    image=payload.get("image"),
                    at=at,
                    pull_request=payload.get("pull_request"),
                )
            )
        return sorted(found, key=lambda deploy: deploy.at, reverse=True)


def build_server(changes: GithubChanges, repos: Sequence[str]) -> MCPServer:
    server = MCPServer(
        "changes",
        instructions="What changed: merged pull requests (with the lines they added) and deploys, per repository.",
    )

    @server.tool(description="Whether GitHub answers, with the remaining API rate limit.")
    async def health() -> Health:
        started = time.perf_counter()
        try:
            detail = await asyncio.to_thread(changes.ping)
        except GithubException as error:
            return Health(source=SOURCE, ok=False, detail=f"GitHub refused: {error.status}")
        except Exception as error:
            return Health(source=SOURCE, ok=False, detail=f"GitHub unreachable: {type(error).__name__}")
        return Health(source=SOURCE, ok=True, detail=detail, latency_ms=(time.perf_counter() - started) * 1000)

    @server.tool(
        description="Recent merged pull requests (with files and added lines) and deploys of one repository "
        "(owner/name), or of every configured repository when `repo` is omitted."
    )
    @one_line_errors
    async def recent_changes(
        repo: Annotated[str | None, Field(description="owner/name; omit for all configured repos")] = None,
        since_hours: Annotated[float, Field(gt=0, le=24 * 30)] = 72,
    ) -> ChangeList:
        since = datetime.now(UTC) - timedelta(hours=since_hours)
        names = [repo] if repo else list(repos)
        if not names:
            raise ToolFailure("no repositories configured: add services with a repo to the config")

        async def one(name: str) -> tuple[str, list[PullRequestChange], list[DeployChange]]:
            pulls, deploys = await asyncio.gather(
                asyncio.to_thread(changes.pull_requests, name, since), asyncio.to_thread(changes.deploys, name, since)
            )
            return name, pulls, deploys

        results = await asyncio.gather(*(one(name) for name in names), return_exceptions=True)
        pulls: list[PullRequestChange] = []
        deploys: list[DeployChange] = []
        failed: dict[str, str] = {}
        for name, result in zip(names, results, strict=True):
            if isinstance(result, BaseException):
                status = getattr(result, "status", None)
                failed[name] = f"GitHub answered {status}" if status else type(result).__name__
                continue
            pulls += result[1]
            deploys += result[2]
        if failed and not pulls and not deploys and len(failed) == len(names):
            raise ToolFailure(f"could not read {', '.join(f'{n} ({e})' for n, e in failed.items())}")
        return ChangeList(
            since=since,
            pull_requests=sorted(pulls, key=lambda p: p.merged_at, reverse=True),
            deploys=sorted(deploys, key=lambda d: d.at, reverse=True),
            failed_repos=failed,
        )

    return server


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.changes.server", parents=[transport_options()])
    parser.add_argument("--base-url", default="https://api.github.com", help="GitHub (Enterprise) API URL")
    parser.add_argument("--repo", action="append", default=[], help="owner/name; repeat for several")
    args = parse_args(parser, argv)
    server = build_server(GithubChanges(args.base_url, os.environ.get("GITHUB_TOKEN")), args.repo)
    asyncio.run(serve_from_args(server, args))


if __name__ == "__main__":
    main()
