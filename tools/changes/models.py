"""What the changes server is configured with and answers: merged pull requests with the lines
they touched, and deploys."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, SecretStr

GITHUB_API = "https://api.github.com"


class GithubTarget(BaseModel):
    """Where GitHub's REST API is: github.com, or GitHub Enterprise Server's `https://HOST/api/v3`."""

    model_config = ConfigDict(frozen=True)

    base_url: str = GITHUB_API
    token: SecretStr | None = Field(default=None, description="read-only token; without one, public repos only")
    timeout_s: int = Field(default=15, gt=0)


class CodeLine(BaseModel):
    line: int = Field(description="line number: in the new file for added lines, in the old file for removed ones")
    text: str


class FileChange(BaseModel):
    filename: str
    status: str = Field(default="modified", description="added, removed, modified or renamed")
    additions: int
    deletions: int
    added: list[CodeLine] = Field(default_factory=list, description="added lines; `filename:line` locates them")
    removed: list[CodeLine] = Field(default_factory=list)
    lines_truncated: bool = Field(default=False, description="the patch had more lines than are listed here")


class _PullRequestFields(BaseModel):
    repo: str
    number: int
    title: str
    author: str | None = None
    url: str
    merge_commit_sha: str | None = None
    additions: int = 0
    deletions: int = 0
    files: list[FileChange] = Field(default_factory=list)
    files_truncated: bool = False


class PullRequestChange(_PullRequestFields):
    """A merged pull request."""

    merged_at: datetime


class PullRequest(_PullRequestFields):
    """One pull request in any state, with its description."""

    state: str = Field(description="open or closed")
    merged_at: datetime | None = None
    body: str = ""


class DeployChange(BaseModel):
    repo: str
    service: str | None = None
    namespace: str | None = Field(default=None, description="Kubernetes namespace, else the deployment environment")
    environment: str | None = None
    image: str | None = None
    at: datetime
    pull_request: int | None = Field(default=None, description="the pull request this deploy shipped, when known")
    sha: str | None = None
    state: str | None = Field(default=None, description="latest deployment status: success, failure, in_progress ...")


class ChangeList(BaseModel):
    since: datetime
    until: datetime
    repos: list[str] = Field(description="the repositories that were read")
    pull_requests: list[PullRequestChange] = Field(description="merged in the window, newest first")
    deploys: list[DeployChange] = Field(description="in the window, newest first")
    failed_repos: dict[str, str] = Field(default_factory=dict, description="repositories that could not be read: why")
