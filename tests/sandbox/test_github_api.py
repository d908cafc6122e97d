from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from github import Auth, Github, GithubException, UnknownObjectException

from sandbox.github_api import GithubApi
from sandbox.world import BUNDLED_WORLDS, World, load_world

RECORDED = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)

PATCH = """\
@@ -10,7 +10,8 @@ class Pool:
-    max_connections = 50
+    max_connections = 5
+    timeout_seconds = 1
     def acquire(self):
"""

CHANGES = {
    "pull_requests": [
        {
            "repo": "acme/payments",
            "number": 42,
            "title": "Tune connection pool",
            "author": "alice",
            "merged_at": (RECORDED - timedelta(hours=1)).isoformat(),
            "url": "https://github.com/acme/payments/pull/42",
            "body": "Fewer connections per pod.",
            "files": [
                {"filename": "app/db/pool.py", "patch": PATCH},
                {"filename": "docs/pool.md", "patch": "@@ -0,0 +1,2 @@\n+# Pool\n+Five connections.\n"},
            ],
        },
        {
            "repo": "acme/payments",
            "number": 41,
            "title": "Bump client library",
            "author": "bob",
            "merged_at": (RECORDED - timedelta(hours=5)).isoformat(),
            "files": [{"filename": "requirements.txt", "patch": "@@ -1 +1 @@\n-client==1.0\n+client==1.1\n"}],
        },
        {
            "repo": "acme/checkout",
            "number": 7,
            "title": "Checkout copy",
            "author": "carol",
            "merged_at": (RECORDED - timedelta(hours=3)).isoformat(),
        },
    ],
    "deploys": [
        {
            "service": "payments-api",
            "namespace": "payments",
            "image": "registry.acme.test/payments-api:v41",
            "at": (RECORDED - timedelta(hours=4)).isoformat(),
            "pull_request": 41,
        },
        {
            "service": "payments-api",
            "namespace": "payments",
            "image": "registry.acme.test/payments-api:v42",
            "at": (RECORDED - timedelta(minutes=50)).isoformat(),
            "pull_request": 42,
        },
    ],
}

WORLD_YAML = {
    "name": "changes",
    "recorded_at": RECORDED.isoformat(),
    "services": [
        {
            "name": "payments-api",
            "namespace": "payments",
            "team": "payments",
            "channel": "#pay",
            "repo": "acme/payments",
        }
    ],
}


@pytest.fixture
def world(tmp_path: Path) -> World:
    (tmp_path / "world.yaml").write_text(yaml.safe_dump(WORLD_YAML))
    (tmp_path / "changes.yaml").write_text(yaml.safe_dump(CHANGES))
    return load_world(tmp_path)


@pytest.fixture
async def api(world: World) -> AsyncIterator[GithubApi]:
    async with GithubApi(world) as served:
        yield served


TOKEN = Auth.Token("sandbox-token")


def client(api: GithubApi, *, auth: Auth.Auth | None = TOKEN, **options: Any) -> Github:
    """PyGithub exactly as production builds it, minus its default 0.25 s pause between requests."""
    assert api.base_url is not None
    return Github(base_url=api.base_url, auth=auth, retry=None, seconds_between_requests=0, **options)


async def test_merged_pull_requests_are_listed_newest_first(api: GithubApi, world: World) -> None:
    def read() -> list[tuple[int, datetime | None, str, str, bool]]:
        repo = client(api).get_repo("acme/payments")
        return [
            (pr.number, pr.merged_at, pr.user.login, pr.html_url, pr.merged)
            for pr in repo.get_pulls(state="closed", sort="updated", direction="desc")
        ]

    merged = {pr.number: pr.merged_at for pr in world.changes.pull_requests}
    assert await asyncio.to_thread(read) == [
        (42, merged[42], "alice", "https://github.com/acme/payments/pull/42", True),
        (41, merged[41], "bob", "https://github.com/acme/payments/pull/41", True),
    ]


async def test_open_pull_requests_are_none_because_every_world_change_was_merged(api: GithubApi) -> None:
    pulls = await asyncio.to_thread(lambda: list(client(api).get_repo("acme/payments").get_pulls()))
    assert pulls == []


async def test_pages_follow_the_link_header(api: GithubApi) -> None:
    def read() -> tuple[int, list[int]]:
        pulls = client(api, per_page=1).get_repo("acme/payments").get_pulls(state="closed", direction="asc")
        return pulls.totalCount, [pr.number for pr in pulls]

    assert await asyncio.to_thread(read) == (2, [41, 42])


async def test_files_carry_patches_and_counted_changes(api: GithubApi) -> None:
    def read() -> tuple[list[tuple[str, str, int, int, str]], int, int]:
        pr = client(api).get_repo("acme/payments").get_pull(42)
        files = [(f.filename, f.status, f.additions, f.deletions, f.patch) for f in pr.get_files()]
        return files, pr.additions, pr.changed_files

    files, additions, changed = await asyncio.to_thread(read)
    assert files == [
        ("app/db/pool.py", "modified", 2, 1, PATCH),
        ("docs/pool.md", "added", 2, 0, "@@ -0,0 +1,2 @@\n+# Pool\n+Five connections.\n"),
    ]
    assert (additions, changed) == (4, 2)


async def test_commits_are_merge_commits_filtered_by_time(api: GithubApi, world: World) -> None:
    since = world.now - timedelta(hours=2)

    def read() -> tuple[list[str], list[str], list[str]]:
        repo = client(api).get_repo("acme/payments")
        recent = [c.commit.message.splitlines()[0] for c in repo.get_commits(since=since)]
        every = [c.commit.message.splitlines()[0] for c in repo.get_commits()]
        touched = [c.files[0].filename for c in repo.get_commits(path="requirements.txt")]
        return recent, every, touched

    recent, every, touched = await asyncio.to_thread(read)
    assert recent == ["Tune connection pool (#42)"]
    assert every == ["Tune connection pool (#42)", "Bump client library (#41)"]
    assert touched == ["requirements.txt"]


async def test_deployments_and_their_statuses(api: GithubApi, world: World) -> None:
    def read() -> list[tuple[str, str, datetime, list[str], bool]]:
        repo = client(api).get_repo("acme/payments")
        merge_sha = repo.get_pull(42).merge_commit_sha
        return [
            (d.environment, d.payload["image"], d.created_at, [s.state for s in d.get_statuses()], d.sha == merge_sha)
            for d in repo.get_deployments()
        ]

    newest, oldest = world.changes.deploys[1], world.changes.deploys[0]
    assert await asyncio.to_thread(read) == [
        ("payments", newest.image, newest.at, ["success"], True),
        ("payments", oldest.image, oldest.at, ["success"], False),
    ]


async def test_repository_without_a_service_is_still_served(api: GithubApi) -> None:
    def read() -> tuple[str, str, list[int]]:
        repo = client(api).get_repo("acme/checkout")
        return repo.full_name, repo.default_branch, [pr.number for pr in repo.get_pulls(state="all")]

    assert await asyncio.to_thread(read) == ("acme/checkout", "main", [7])


async def test_unknown_repository_and_pull_request_are_not_found(api: GithubApi) -> None:
    with pytest.raises(UnknownObjectException):
        await asyncio.to_thread(lambda: client(api).get_repo("acme/nope"))
    with pytest.raises(UnknownObjectException):
        await asyncio.to_thread(lambda: client(api).get_repo("acme/payments").get_pull(999))


async def test_anonymous_callers_are_served_and_see_the_anonymous_rate_limit(api: GithubApi) -> None:
    def read() -> tuple[str, tuple[int, int]]:
        anonymous = client(api, auth=None)
        name = anonymous.get_repo("acme/payments").full_name
        return name, anonymous.rate_limiting

    name, (remaining, limit) = await asyncio.to_thread(read)
    assert name == "acme/payments"
    assert limit == 60
    assert remaining < 60
    with pytest.raises(GithubException) as refused:
        await asyncio.to_thread(lambda: client(api, auth=None).get_user().login)
    assert refused.value.status == 401
    assert await asyncio.to_thread(lambda: client(api).get_user().login) == "whisperer-bot"


async def test_links_name_the_host_the_client_used(api: GithubApi) -> None:
    assert api.base_url is not None
    via_localhost = api.base_url.replace("127.0.0.1", "localhost")

    def read() -> list[int]:
        github = Github(base_url=via_localhost, retry=None, seconds_between_requests=0, per_page=1)
        return [pr.number for pr in github.get_repo("acme/payments").get_pulls(state="closed")]

    assert await asyncio.to_thread(read) == [42, 41]


async def test_unknown_paths_answer_githubs_not_found_shape(api: GithubApi) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{api.base_url}/repos/acme/payments/issues") as response:
            assert response.status == 404
            assert response.headers["X-RateLimit-Limit"] == "60"
            body = await response.json()
        async with session.post(f"{api.base_url}/repos/acme/payments/pulls", json={}) as response:
            assert response.status == 404
    assert body["message"] == "Not Found"
    assert body["documentation_url"].startswith("https://docs.github.com/")


@pytest.mark.skipif(not (BUNDLED_WORLDS / "payment-outage").is_dir(), reason="worlds/payment-outage not bundled yet")
async def test_bundled_payment_outage_world_lists_its_pull_requests() -> None:
    world = load_world("payment-outage")
    repos = sorted({pr.repo for pr in world.changes.pull_requests})
    async with GithubApi(world) as api:

        def read() -> list[int]:
            github = client(api)
            return [
                pr.number
                for name in repos
                for pr in github.get_repo(name).get_pulls(state="closed", sort="updated", direction="desc")
            ]

        listed = await asyncio.to_thread(read)
    assert sorted(listed) == sorted(pr.number for pr in world.changes.pull_requests)
