"""A GitHub REST v3 stand-in that serves a world's merged pull requests, merge commits and deployments.

The changes tool asks "what was merged and deployed just before this broke?" through PyGithub.
To keep that code path the production one, this server speaks the REST API in GitHub's own JSON
shapes and pagination (Link headers), under `/api/v3` like GitHub Enterprise Server, so the
tool only needs `Github(base_url=...)` pointed here. Every id and sha is derived from the world
(a hash of repository, number, ...), so the same world always yields the same identifiers.

Only reads are served; anything else is GitHub's JSON 404, as GitHub answers a path it does not
have. Requests without credentials are served, as GitHub serves public repositories, and every
response carries GitHub's rate-limit headers; the limits are reported, never enforced.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from sandbox.lifecycle import LOOPBACK, SandboxService, listen
from sandbox.timeshift import format_time, parse_time
from sandbox.world import World
from sandbox.world_models import Deploy, FilePatch, PullRequest

API_PREFIX = "/api/v3"
HTML_ROOT = "https://github.com"
DOCS_URL = "https://docs.github.com/rest"
DEFAULT_BRANCH = "main"
AUTHENTICATED_LOGIN = "whisperer-bot"
DEPLOYER_LOGIN = "deploy-bot"
MERGER_LOGIN = "web-flow"
RATE_LIMITS = {True: 5000, False: 60}
RATE_WINDOW_SECONDS = 3600
DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100
# A pull request's life before it was merged; the world only records the merge.
REVIEW_TIME = timedelta(hours=2)

_log = logging.getLogger(__name__)
# The API root as the current request reached it; set by the middleware for the handler it wraps.
_request_api_root: ContextVar[str] = ContextVar("_request_api_root")

Json = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class GithubApiError(Exception):
    """A world's changes cannot be served; the message is one line for the user."""


class _ApiError(Exception):
    """An error answered in GitHub's JSON shape."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _stable_id(*parts: object) -> int:
    """A positive id that fits a JavaScript number, as GitHub's ids do."""
    return int(hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()[:13], 16)


def _sha(*parts: object) -> str:
    return hashlib.sha1("/".join(map(str, parts)).encode(), usedforsecurity=False).hexdigest()


@dataclass
class _Repo:
    owner: str
    name: str
    # Oldest merge first: the order history was written in.
    pulls: list[PullRequest] = field(default_factory=list)
    # (position in the world's deploy list, deploy), newest first as GitHub lists them.
    deploys: list[tuple[int, Deploy]] = field(default_factory=list)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def merge_sha(self, pull: PullRequest) -> str:
        return _sha(self.full_name, "merge", pull.number)

    def parent_sha(self, pull: PullRequest) -> str:
        index = self.pulls.index(pull)
        return self.merge_sha(self.pulls[index - 1]) if index else _sha(self.full_name, "initial commit")

    def pull(self, number: int) -> PullRequest:
        for pull in self.pulls:
            if pull.number == number:
                return pull
        raise _ApiError(404, "Not Found")


def _catalog(world: World) -> dict[str, _Repo]:
    """Repositories by lower-cased full name (GitHub's names are case-insensitive)."""
    repos: dict[str, _Repo] = {}

    def repo(full_name: str, where: str) -> _Repo:
        owner, slash, name = full_name.partition("/")
        if not slash or not owner or not name or "/" in name:
            raise GithubApiError(f"world {world.name}: {where}: repo {full_name!r} is not 'owner/name'")
        return repos.setdefault(full_name.lower(), _Repo(owner=owner, name=name))

    service_repos = {
        service.name: repo(service.repo, f"world.yaml service {service.name}") for service in world.meta.services
    }
    # Times written without a zone are UTC, as everywhere in a world; comparing needs them aware.
    for pull in (
        pull.model_copy(update={"merged_at": parse_time(pull.merged_at)}) for pull in world.changes.pull_requests
    ):
        owner = repo(pull.repo, f"changes.yaml pull request #{pull.number}")
        if any(known.number == pull.number for known in owner.pulls):
            raise GithubApiError(f"world {world.name}: changes.yaml: {pull.repo} has pull request #{pull.number} twice")
        owner.pulls.append(pull)
    for known in repos.values():
        known.pulls.sort(key=lambda pull: (pull.merged_at, pull.number))
    deploys = (deploy.model_copy(update={"at": parse_time(deploy.at)}) for deploy in world.changes.deploys)
    for position, deploy in enumerate(deploys):
        target = service_repos.get(deploy.service) or _repo_of_pull(repos.values(), deploy.pull_request)
        if target is None:
            _log.warning(
                "world %s: deploy of %s at %s belongs to no repository (no service and no pull request matches)",
                world.name,
                deploy.service,
                deploy.at,
            )
            continue
        target.deploys.append((position, deploy))
    for known in repos.values():
        known.deploys.sort(key=lambda item: (item[1].at, item[0]), reverse=True)
    return repos


def _repo_of_pull(repos: Iterable[_Repo], number: int | None) -> _Repo | None:
    owners = [repo for repo in repos if any(pull.number == number for pull in repo.pulls)]
    return owners[0] if len(owners) == 1 else None


def _patch_counts(patch: str) -> tuple[int, int]:
    lines = patch.splitlines()
    additions = sum(1 for line in lines if line.startswith("+") and not line.startswith("+++"))
    deletions = sum(1 for line in lines if line.startswith("-") and not line.startswith("---"))
    return additions, deletions


def _file_status(patch: str) -> str:
    """What GitHub would call the change, read off the first hunk header."""
    first_hunk = next((line for line in patch.splitlines() if line.startswith("@@")), "")
    if first_hunk.startswith("@@ -0,0 "):
        return "added"
    if " +0,0 @@" in first_hunk:
        return "removed"
    return "modified"


def _page_numbers(request: web.Request) -> tuple[int, int]:
    def number(key: str, default: int) -> int:
        try:
            return max(1, int(request.query.get(key, default)))
        except ValueError:
            return default

    return number("page", 1), min(number("per_page", DEFAULT_PER_PAGE), MAX_PER_PAGE)


def _paginated(request: web.Request, items: list[Json]) -> web.Response:
    """One page of a list, with the Link header GitHub sends (and PyGithub follows)."""
    page, per_page = _page_numbers(request)
    last = max(1, -(-len(items) // per_page))
    links = []
    if page < last:
        links += [(page + 1, "next"), (last, "last")]
    if page > 1:
        links += [(1, "first"), (min(page - 1, last), "prev")]
    response = web.json_response(items[(page - 1) * per_page : page * per_page])
    if links:
        response.headers["Link"] = ", ".join(
            f'<{request.url.update_query(page=number, per_page=per_page)}>; rel="{rel}"' for number, rel in links
        )
    return response


def _query_time(request: web.Request, key: str) -> datetime | None:
    value = request.query.get(key)
    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError as exc:
        raise _ApiError(422, f"Invalid value for '{key}': {value!r} is not an ISO 8601 timestamp") from exc


class _RateLimit:
    """GitHub's per-hour request budget, counted separately for anonymous and authenticated callers."""

    def __init__(self) -> None:
        self._reset = int(time.time()) + RATE_WINDOW_SECONDS
        self._used = {True: 0, False: 0}

    def count(self, authenticated: bool) -> None:
        self._roll()
        self._used[authenticated] += 1

    def status(self, authenticated: bool) -> Json:
        self._roll()
        limit, used = RATE_LIMITS[authenticated], self._used[authenticated]
        return {"limit": limit, "remaining": max(0, limit - used), "reset": self._reset, "used": used}

    def headers(self, authenticated: bool) -> dict[str, str]:
        status = self.status(authenticated)
        return {f"X-RateLimit-{key.title()}": str(value) for key, value in status.items()} | {
            "X-RateLimit-Resource": "core"
        }

    def _roll(self) -> None:
        now = int(time.time())
        if now >= self._reset:
            self._reset = now + RATE_WINDOW_SECONDS
            self._used = {True: 0, False: 0}


class GithubApi(SandboxService):
    """The world's changes over GitHub's REST API; `start()` returns the base URL for PyGithub."""

    def __init__(self, world: World) -> None:
        self._world = world
        self._repos = _catalog(world)
        self._logins = (
            {pull.author for repo in self._repos.values() for pull in repo.pulls}
            | {repo.owner for repo in self._repos.values()}
            | {AUTHENTICATED_LOGIN, DEPLOYER_LOGIN, MERGER_LOGIN}
        )
        self._rate = _RateLimit()
        self._runner: web.AppRunner | None = None
        self.base_url: str | None = None

    async def start(self) -> str:
        app = web.Application(middlewares=[self._github_envelope])
        app.router.add_routes(
            [
                web.get(f"{API_PREFIX}/rate_limit", self._rate_limit),
                web.get(f"{API_PREFIX}/user", self._authenticated_user),
                web.get(f"{API_PREFIX}/users/{{login}}", self._user),
                web.get(f"{API_PREFIX}/repos/{{owner}}/{{repo}}", self._repository),
                web.get(f"{API_PREFIX}/repos/{{owner}}/{{repo}}/pulls", self._pulls),
                web.get(f"{API_PREFIX}/repos/{{owner}}/{{repo}}/pulls/{{number:\\d+}}", self._pull),
                web.get(f"{API_PREFIX}/repos/{{owner}}/{{repo}}/pulls/{{number:\\d+}}/files", self._pull_files),
                web.get(f"{API_PREFIX}/repos/{{owner}}/{{repo}}/commits", self._commits),
                web.get(f"{API_PREFIX}/repos/{{owner}}/{{repo}}/commits/{{ref}}", self._commit),
                web.get(f"{API_PREFIX}/repos/{{owner}}/{{repo}}/deployments", self._deployments),
                web.get(f"{API_PREFIX}/repos/{{owner}}/{{repo}}/deployments/{{id:\\d+}}", self._deployment),
                web.get(
                    f"{API_PREFIX}/repos/{{owner}}/{{repo}}/deployments/{{id:\\d+}}/statuses",
                    self._deployment_statuses,
                ),
            ]
        )
        self._runner, port = await listen(app)
        self.base_url = f"http://{LOOPBACK}:{port}{API_PREFIX}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.base_url = None

    @web.middleware
    async def _github_envelope(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """GitHub's error shape for every failure, and its headers on every answer."""
        authenticated = "Authorization" in request.headers
        # Links name the host the client used (127.0.0.1 or localhost), or PyGithub refuses to follow them.
        _request_api_root.set(f"{request.url.origin()}{API_PREFIX}")
        if request.path != f"{API_PREFIX}/rate_limit":
            self._rate.count(authenticated)
        try:
            response = await handler(request)
        except _ApiError as error:
            response = _error(error.status, error.message)
        except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
            response = _error(404, "Not Found")
        response.headers.update(self._rate.headers(authenticated))
        response.headers["X-GitHub-Media-Type"] = "github.v3; format=json"
        response.headers["X-GitHub-Request-Id"] = uuid.uuid4().hex.upper()
        return response

    # -- URLs and shared shapes ------------------------------------------------------------------

    def _api(self, path: str) -> str:
        return f"{_request_api_root.get()}{path}"

    def _repo(self, request: web.Request) -> _Repo:
        found = self._repos.get(f"{request.match_info['owner']}/{request.match_info['repo']}".lower())
        if found is None:
            raise _ApiError(404, "Not Found")
        return found

    def _user_json(self, login: str) -> Json:
        kind = "Bot" if login in {DEPLOYER_LOGIN, MERGER_LOGIN} else "User"
        if any(repo.owner == login for repo in self._repos.values()):
            kind = "Organization"
        return {
            "login": login,
            "id": _stable_id("user", login),
            "node_id": f"U_{_sha('user', login)[:16]}",
            "avatar_url": f"https://avatars.githubusercontent.com/u/{_stable_id('user', login)}?v=4",
            "gravatar_id": "",
            "url": self._api(f"/users/{login}"),
            "html_url": f"{HTML_ROOT}/{login}",
            "type": kind,
            "site_admin": False,
        }

    def _repo_json(self, repo: _Repo) -> Json:
        api = self._api(f"/repos/{repo.full_name}")
        merged = [pull.merged_at for pull in repo.pulls]
        pushed = max(merged, default=self._world.now)
        return {
            "id": _stable_id("repo", repo.full_name.lower()),
            "node_id": f"R_{_sha('repo', repo.full_name.lower())[:16]}",
            "name": repo.name,
            "full_name": repo.full_name,
            "owner": self._user_json(repo.owner),
            "private": False,
            "visibility": "public",
            "html_url": f"{HTML_ROOT}/{repo.full_name}",
            "description": f"{repo.name} service",
            "fork": False,
            "archived": False,
            "disabled": False,
            "url": api,
            "pulls_url": f"{api}/pulls{{/number}}",
            "commits_url": f"{api}/commits{{/sha}}",
            "deployments_url": f"{api}/deployments",
            "clone_url": f"{HTML_ROOT}/{repo.full_name}.git",
            "git_url": f"git://github.com/{repo.full_name}.git",
            "ssh_url": f"git@github.com:{repo.full_name}.git",
            "created_at": format_time(min(merged, default=self._world.now) - timedelta(days=365)),
            "updated_at": format_time(pushed),
            "pushed_at": format_time(pushed),
            "default_branch": DEFAULT_BRANCH,
            "language": None,
            "size": 0,
            "stargazers_count": 0,
            "watchers_count": 0,
            "forks_count": 0,
            "open_issues_count": 0,
            "has_issues": True,
            "has_projects": False,
            "has_wiki": False,
            "topics": [],
            "permissions": {"admin": False, "maintain": False, "push": False, "triage": False, "pull": True},
        }

    def _branch_json(self, repo: _Repo, ref: str, sha: str, repo_json: Json) -> Json:
        return {"label": f"{repo.owner}:{ref}", "ref": ref, "sha": sha, "user": repo_json["owner"], "repo": repo_json}

    def _pull_json(self, repo: _Repo, pull: PullRequest, *, full: bool) -> Json:
        api = self._api(f"/repos/{repo.full_name}")
        html = pull.url or f"{HTML_ROOT}/{repo.full_name}/pull/{pull.number}"
        repo_json = self._repo_json(repo)
        head_sha = _sha(repo.full_name, "head", pull.number)
        merged_at = format_time(pull.merged_at)
        data: Json = {
            "url": f"{api}/pulls/{pull.number}",
            "id": _stable_id("pull", repo.full_name.lower(), pull.number),
            "node_id": f"PR_{_sha('pull', repo.full_name.lower(), pull.number)[:16]}",
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "issue_url": f"{api}/issues/{pull.number}",
            "commits_url": f"{api}/pulls/{pull.number}/commits",
            "review_comments_url": f"{api}/pulls/{pull.number}/comments",
            "review_comment_url": f"{api}/pulls/comments{{/number}}",
            "comments_url": f"{api}/issues/{pull.number}/comments",
            "statuses_url": f"{api}/statuses/{head_sha}",
            "number": pull.number,
            "state": "closed",
            "locked": False,
            "title": pull.title,
            "user": self._user_json(pull.author),
            "body": pull.body or None,
            "labels": [],
            "milestone": None,
            "active_lock_reason": None,
            "created_at": format_time(pull.merged_at - REVIEW_TIME),
            "updated_at": merged_at,
            "closed_at": merged_at,
            "merged_at": merged_at,
            "merge_commit_sha": repo.merge_sha(pull),
            "assignee": None,
            "assignees": [],
            "requested_reviewers": [],
            "requested_teams": [],
            "head": self._branch_json(repo, f"pr-{pull.number}", head_sha, repo_json),
            "base": self._branch_json(repo, DEFAULT_BRANCH, repo.parent_sha(pull), repo_json),
            "_links": {
                "self": {"href": f"{api}/pulls/{pull.number}"},
                "html": {"href": html},
                "issue": {"href": f"{api}/issues/{pull.number}"},
                "commits": {"href": f"{api}/pulls/{pull.number}/commits"},
            },
            "author_association": "MEMBER",
            "auto_merge": None,
            "draft": False,
        }
        if full:
            counts = [_patch_counts(change.patch) for change in pull.files]
            data |= {
                "merged": True,
                "mergeable": None,
                "rebaseable": None,
                "mergeable_state": "unknown",
                "merged_by": self._user_json(pull.author),
                "comments": 0,
                "review_comments": 0,
                "maintainer_can_modify": False,
                "commits": 1,
                "additions": sum(added for added, _ in counts),
                "deletions": sum(deleted for _, deleted in counts),
                "changed_files": len(pull.files),
            }
        return data

    def _file_json(self, repo: _Repo, pull: PullRequest, change: FilePatch) -> Json:
        additions, deletions = _patch_counts(change.patch)
        merge_sha = repo.merge_sha(pull)
        return {
            "sha": _sha(repo.full_name, pull.number, change.filename),
            "filename": change.filename,
            "status": _file_status(change.patch),
            "additions": additions,
            "deletions": deletions,
            "changes": additions + deletions,
            "blob_url": f"{HTML_ROOT}/{repo.full_name}/blob/{merge_sha}/{change.filename}",
            "raw_url": f"{HTML_ROOT}/{repo.full_name}/raw/{merge_sha}/{change.filename}",
            "contents_url": self._api(f"/repos/{repo.full_name}/contents/{change.filename}?ref={merge_sha}"),
            "patch": change.patch,
        }

    def _commit_json(self, repo: _Repo, pull: PullRequest, *, full: bool) -> Json:
        """The squash-merge commit of a pull request, as GitHub writes it."""
        api = self._api(f"/repos/{repo.full_name}")
        sha, parent = repo.merge_sha(pull), repo.parent_sha(pull)
        date = format_time(pull.merged_at)
        message = f"{pull.title} (#{pull.number})" + (f"\n\n{pull.body}" if pull.body else "")
        data: Json = {
            "sha": sha,
            "node_id": f"C_{sha[:16]}",
            "url": f"{api}/commits/{sha}",
            "html_url": f"{HTML_ROOT}/{repo.full_name}/commit/{sha}",
            "comments_url": f"{api}/commits/{sha}/comments",
            "commit": {
                "url": f"{api}/git/commits/{sha}",
                "author": {"name": pull.author, "email": f"{pull.author}@users.noreply.github.com", "date": date},
                "committer": {"name": "GitHub", "email": "noreply@github.com", "date": date},
                "message": message,
                "tree": {"sha": _sha(sha, "tree"), "url": f"{api}/git/trees/{_sha(sha, 'tree')}"},
                "comment_count": 0,
                "verification": {"verified": False, "reason": "unsigned", "signature": None, "payload": None},
            },
            "author": self._user_json(pull.author),
            "committer": self._user_json(MERGER_LOGIN),
            "parents": [
                {
                    "sha": parent,
                    "url": f"{api}/commits/{parent}",
                    "html_url": f"{HTML_ROOT}/{repo.full_name}/commit/{parent}",
                }
            ],
        }
        if full:
            files = [self._file_json(repo, pull, change) for change in pull.files]
            additions = sum(file["additions"] for file in files)
            deletions = sum(file["deletions"] for file in files)
            data |= {
                "stats": {"total": additions + deletions, "additions": additions, "deletions": deletions},
                "files": files,
            }
        return data

    def _deployment_sha(self, repo: _Repo, deploy: Deploy) -> str:
        pulls = [pull for pull in repo.pulls if pull.number == deploy.pull_request]
        return repo.merge_sha(pulls[0]) if pulls else _sha(repo.full_name, "image", deploy.image)

    def _deployment_json(self, repo: _Repo, position: int, deploy: Deploy) -> Json:
        api = self._api(f"/repos/{repo.full_name}")
        deployment_id = _stable_id("deployment", repo.full_name.lower(), position)
        at = format_time(deploy.at)
        return {
            "url": f"{api}/deployments/{deployment_id}",
            "id": deployment_id,
            "node_id": f"DE_{_sha('deployment', deployment_id)[:16]}",
            "sha": self._deployment_sha(repo, deploy),
            "ref": DEFAULT_BRANCH,
            "task": "deploy",
            "payload": {
                "service": deploy.service,
                "image": deploy.image,
                "namespace": deploy.namespace,
                "pull_request": deploy.pull_request,
            },
            "original_environment": deploy.namespace,
            "environment": deploy.namespace,
            "description": f"Deploy {deploy.image} to {deploy.namespace}",
            "creator": self._user_json(DEPLOYER_LOGIN),
            "created_at": at,
            "updated_at": at,
            "statuses_url": f"{api}/deployments/{deployment_id}/statuses",
            "repository_url": api,
            "transient_environment": False,
            "production_environment": "prod" in deploy.namespace,
        }

    def _status_json(self, repo: _Repo, position: int, deploy: Deploy) -> Json:
        deployment = self._deployment_json(repo, position, deploy)
        status_id = _stable_id("deployment-status", deployment["id"])
        return {
            "url": f"{deployment['url']}/statuses/{status_id}",
            "id": status_id,
            "node_id": f"DES_{_sha('deployment-status', status_id)[:16]}",
            "state": "success",
            "creator": deployment["creator"],
            "description": f"Deployed {deploy.image}",
            "environment": deploy.namespace,
            "target_url": "",
            "log_url": "",
            "environment_url": "",
            "created_at": deployment["created_at"],
            "updated_at": deployment["created_at"],
            "deployment_url": deployment["url"],
            "repository_url": deployment["repository_url"],
        }

    def _deploy(self, request: web.Request) -> tuple[_Repo, int, Deploy]:
        repo = self._repo(request)
        wanted = int(request.match_info["id"])
        for position, deploy in repo.deploys:
            if _stable_id("deployment", repo.full_name.lower(), position) == wanted:
                return repo, position, deploy
        raise _ApiError(404, "Not Found")

    # -- endpoints ---------------------------------------------------------------------------------

    async def _rate_limit(self, request: web.Request) -> web.Response:
        core = self._rate.status("Authorization" in request.headers)
        resources = {name: {**core, "resource": name} for name in ("core", "search", "graphql")}
        return web.json_response({"resources": resources, "rate": resources["core"]})

    async def _authenticated_user(self, request: web.Request) -> web.Response:
        if "Authorization" not in request.headers:
            raise _ApiError(401, "Requires authentication")
        return web.json_response(self._user_json(AUTHENTICATED_LOGIN) | {"name": "InfraWhisperer"})

    async def _user(self, request: web.Request) -> web.Response:
        login = request.match_info["login"]
        if login not in self._logins:
            raise _ApiError(404, "Not Found")
        return web.json_response(self._user_json(login))

    async def _repository(self, request: web.Request) -> web.Response:
        return web.json_response(self._repo_json(self._repo(request)))

    async def _pulls(self, request: web.Request) -> web.Response:
        repo = self._repo(request)
        query = request.query
        pulls = list(repo.pulls) if query.get("state", "open") in {"closed", "all"} else []
        if "base" in query:
            pulls = [pull for pull in pulls if query["base"] == DEFAULT_BRANCH]
        if "head" in query:
            pulls = [pull for pull in pulls if query["head"] == f"{repo.owner}:pr-{pull.number}"]
        sort = query.get("sort", "created")
        direction = query.get("direction", "desc" if sort == "created" else "asc")
        pulls.sort(
            key=lambda pull: (pull.merged_at if sort == "updated" else pull.merged_at - REVIEW_TIME, pull.number),
            reverse=direction == "desc",
        )
        return _paginated(request, [self._pull_json(repo, pull, full=False) for pull in pulls])

    async def _pull(self, request: web.Request) -> web.Response:
        repo = self._repo(request)
        return web.json_response(self._pull_json(repo, repo.pull(int(request.match_info["number"])), full=True))

    async def _pull_files(self, request: web.Request) -> web.Response:
        repo = self._repo(request)
        pull = repo.pull(int(request.match_info["number"]))
        return _paginated(request, [self._file_json(repo, pull, change) for change in pull.files])

    async def _commits(self, request: web.Request) -> web.Response:
        repo = self._repo(request)
        query = request.query
        history = list(reversed(repo.pulls))
        start = query.get("sha", DEFAULT_BRANCH)
        if start != DEFAULT_BRANCH:
            shas = [repo.merge_sha(pull) for pull in history]
            if start not in shas:
                raise _ApiError(404, f"No commit found for SHA: {start}")
            history = history[shas.index(start) :]
        since, until = _query_time(request, "since"), _query_time(request, "until")
        path = query.get("path")
        author = query.get("author")
        history = [
            pull
            for pull in history
            if (since is None or pull.merged_at >= since)
            and (until is None or pull.merged_at <= until)
            and (author is None or author in {pull.author, f"{pull.author}@users.noreply.github.com"})
            and (path is None or any(_touches(change.filename, path) for change in pull.files))
        ]
        return _paginated(request, [self._commit_json(repo, pull, full=False) for pull in history])

    async def _commit(self, request: web.Request) -> web.Response:
        repo = self._repo(request)
        ref = request.match_info["ref"]
        if ref == DEFAULT_BRANCH and repo.pulls:
            return web.json_response(self._commit_json(repo, repo.pulls[-1], full=True))
        for pull in repo.pulls:
            if len(ref) >= 7 and repo.merge_sha(pull).startswith(ref):
                return web.json_response(self._commit_json(repo, pull, full=True))
        raise _ApiError(422, f"No commit found for SHA: {ref}")

    async def _deployments(self, request: web.Request) -> web.Response:
        repo = self._repo(request)
        query = request.query
        deployments = [self._deployment_json(repo, position, deploy) for position, deploy in repo.deploys]
        for key in ("sha", "ref", "task", "environment"):
            if key in query:
                deployments = [deployment for deployment in deployments if deployment[key] == query[key]]
        return _paginated(request, deployments)

    async def _deployment(self, request: web.Request) -> web.Response:
        return web.json_response(self._deployment_json(*self._deploy(request)))

    async def _deployment_statuses(self, request: web.Request) -> web.Response:
        return _paginated(request, [self._status_json(*self._deploy(request))])


def _touches(filename: str, path: str) -> bool:
    path = path.strip("/")
    return filename == path or filename.startswith(f"{path}/")


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"message": message, "documentation_url": DOCS_URL, "status": str(status)}, status=status)
