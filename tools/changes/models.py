"""What the changes server reports: merged pull requests with the lines they touched, and deploys."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class AddedCode(BaseModel):
    line: int = Field(description="line number in the new version of the file")
    text: str


class FileChange(BaseModel):
    filename: str
    additions: int
    deletions: int
    added: list[AddedCode] = Field(default_factory=list, description="added lines (capped), for file:line evidence")


class PullRequestChange(BaseModel):
    repo: str
    number: int
    title: str
    author: str | None = None
    merged_at: datetime
    url: str
    files: list[FileChange] = Field(default_factory=list)


class DeployChange(BaseModel):
    repo: str
    service: str | None = None
    namespace: str | None = None
    image: str | None = None
    at: datetime
    pull_request: int | None = None


class ChangeList(BaseModel):
    since: datetime
    pull_requests: list[PullRequestChange] = Field(description="merged in the window, newest first")
    deploys: list[DeployChange] = Field(description="in the window, newest first")
    failed_repos: dict[str, str] = Field(default_factory=dict, description="repos that could not be read, and why")
