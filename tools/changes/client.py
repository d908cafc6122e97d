"""GitHub read through PyGithub: merged pull requests with their patches, and deployments.

PyGithub is blocking; every public method here is meant for `asyncio.to_thread`, and each call
builds its own `Github` object so concurrent threads never share an HTTP connection. Deploys
are GitHub Deployments: their `payload` may carry `service`, `namespace`, `image` and
`pull_request` (as our pipelines and the sandbox write them); without one, the repository's
service, the deployment environment and the pull request merged as the deployed commit stand in.

Retries are limited to a couple of quick ones for 5xx answers: PyGithub's default retry waits
out a rate limit for as long as GitHub asks, and a bot that hangs for an hour is worse than one
that says "rate limited".
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, Final

from github import Auth, BadCredentialsException, Github, GithubException, RateLimitExceededException
from github.File import File
from github.PullRequest import PullRequest as GithubPullRequest
from urllib3.util.retry import Retry

from tools.changes.models import (
    CodeLine,
    DeployChange,
    FileChange,
    GithubTarget,
    PullRequest,
    PullRequestChange,
)
from tools.changes.patches import AddedLine, parse_patch

MAX_PULLS_SCANNED: Final = 200
MAX_DEPLOYS_SCANNED: Final = 200
MAX_FILES: Final = 50
MAX_ADDED_LINES: Final = 200
MAX_REMOVED_LINES: Final = 100
PER_PAGE: Final = 100


class GithubUnavailable(Exception):
    """GitHub did not give what was asked; str() is one line naming what and why."""


@contextlib.contextmanager
def _answering(what: str) -> Iterator[None]:
    """GitHub's and the network's failures as one `GithubUnavailable` line about `what`."""
    try:
        yield
    except BadCredentialsException:
        raise GithubUnavailable(f"GitHub rejected the token (401) reading {what}") from None
    except RateLimitExceededException:
        raise GithubUnavailable(f"GitHub rate limit exhausted reading {what}; try again later") from None
    except GithubException as error:
        message = error.data.get("message") if isinstance(error.data, dict) else None
        if error.status == 404:
            raise GithubUnavailable(f"{what} not found on GitHub (or the token cannot see it)") from None
        raise GithubUnavailable(f"GitHub answered {error.status} for {what}: {message or 'no message'}") from None
    except OSError as error:  # requests' exceptions are OSErrors: refused, reset, timed out, DNS
        raise GithubUnavailable(f"cannot reach GitHub for {what}: {type(error).__name__}") from None


def _code_lines(lines: list[AddedLine], limit: int) -> list[CodeLine]:
    return [CodeLine(line=number, text=text) for number, text in lines[:limit]]


def file_change(file: File) -> FileChange:
    """A pull request's file with the lines its patch added and removed.

    GitHub leaves `patch` out for binary files and very large diffs: the counts stay, the lines
    are then reported as truncated.
    """
    lines = parse_patch(file.patch or "")
    return FileChange(
        filename=file.filename,
        status=file.status,
        additions=file.additions,
        deletions=file.deletions,
        added=_code_lines(lines.added, MAX_ADDED_LINES),
        removed=_code_lines(lines.removed, MAX_REMOVED_LINES),
        lines_truncated=(
            len(lines.added) > MAX_ADDED_LINES
            or len(lines.removed) > MAX_REMOVED_LINES
            or (file.patch is None and file.changes > 0)
        ),
    )


class GithubClient:
    """Blocking reads of one GitHub (or GitHub Enterprise) instance."""

    def __init__(self, target: GithubTarget, services: Mapping[str, str] | None = None) -> None:
        self._target = target
        repos = [repo.lower() for repo in (services or {}).values()]
        # A deployment without a `service` in its payload belongs to its repository's only service.
        self._service_of_repo = {
            repo.lower(): service for service, repo in (services or {}).items() if repos.count(repo.lower()) == 1
        }

    def _github(self, *, lazy: bool = False) -> Github:
        """A fresh client; a lazy one fetches an object only when a field of it is read."""
        token = self._target.token
        return Github(
            base_url=self._target.base_url,
            auth=Auth.Token(token.get_secret_value()) if token else None,
            timeout=self._target.timeout_s,
            per_page=PER_PAGE,
            retry=Retry(total=2, backoff_factor=0.5, status_forcelist=(502, 503, 504), allowed_methods=("GET",)),
            seconds_between_requests=None,
            lazy=lazy,
        )

    def rate_limit(self) -> str:
        """The remaining request budget, which also proves GitHub answers (and takes the token)."""
        with _answering("the rate limit"):
            core = self._github().get_rate_limit().resources.core
            return f"{core.remaining}/{core.limit} requests left"

    def check_repo(self, repo: str) -> None:
        with _answering(f"repository {repo}"):
            self._github().get_repo(repo)

    def merged_pull_requests(self, repo: str, since: datetime, until: datetime) -> list[PullRequestChange]:
        """Pull requests merged in [since, until], newest first, with their files and touched lines."""
        with _answering(f"pull requests of {repo}"):
            repository = self._github(lazy=True).get_repo(repo)
            merged: list[PullRequestChange] = []
            pulls = repository.get_pulls(state="closed", sort="updated", direction="desc")
            for scanned, pull in enumerate(pulls):
                # A merge updates the pull request, so nothing older than `since` follows.
                if scanned >= MAX_PULLS_SCANNED or (pull.updated_at is not None and pull.updated_at < since):
                    break
                merged_at = pull.merged_at
                if merged_at is not None and since <= merged_at <= until:
                    merged.append(PullRequestChange(merged_at=merged_at, **self._fields(repo, pull)))
            return sorted(merged, key=lambda change: change.merged_at, reverse=True)

    def pull_request(self, repo: str, number: int) -> PullRequest:
        with _answering(f"pull request {repo}#{number}"):
            pull = self._github(lazy=True).get_repo(repo).get_pull(number)
            return PullRequest(
                state=pull.state, merged_at=pull.merged_at, body=pull.body or "", **self._fields(repo, pull)
            )

    def deploys(
        self, repo: str, since: datetime, until: datetime, merge_commits: Mapping[str, int] | None = None
    ) -> list[DeployChange]:
        """Deployments created in [since, until], newest first; `merge_commits` maps sha to pull request."""
        with _answering(f"deployments of {repo}"):
            repository = self._github(lazy=True).get_repo(repo)
            found: list[DeployChange] = []
            for scanned, deployment in enumerate(repository.get_deployments()):
                if scanned >= MAX_DEPLOYS_SCANNED or deployment.created_at < since:
                    break
                if deployment.created_at > until:
                    continue
                payload: dict[str, Any] = deployment.payload if isinstance(deployment.payload, dict) else {}
                statuses = deployment.get_statuses()
                latest = next(iter(statuses), None)
                pull_request = payload.get("pull_request") or (merge_commits or {}).get(deployment.sha)
                found.append(
                    DeployChange(
                        repo=repo,
                        service=payload.get("service") or self._service_of_repo.get(repo.lower()),
                        namespace=payload.get("namespace") or deployment.environment,
                        environment=deployment.environment,
                        image=payload.get("image"),
                        at=deployment.created_at,
                        pull_request=int(pull_request) if pull_request else None,
                        sha=deployment.sha,
                        state=latest.state if latest is not None else None,
                    )
                )
            return found

    def _fields(self, repo: str, pull: GithubPullRequest) -> dict[str, Any]:
        """What every pull request answer holds; reading the files costs one request per 100 files."""
        listed: list[File] = list(pull.get_files()[: MAX_FILES + 1])
        files = [file_change(file) for file in listed]
        return {
            "repo": repo,
            "number": pull.number,
            "title": pull.title,
            "author": pull.user.login if pull.user else None,
            "url": pull.html_url,
            "merge_commit_sha": pull.merge_commit_sha,
            "additions": sum(file.additions for file in files[:MAX_FILES]),
            "deletions": sum(file.deletions for file in files[:MAX_FILES]),
            "files": files[:MAX_FILES],
            "files_truncated": len(files) > MAX_FILES,
        }
