from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sandbox.timeshift import TimeShift
from sandbox.world import WorldError, bundled_world_names, load_world

RECORDED = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 21, 9, 30, 15, tzinfo=UTC)  # 19 h 30 min 15 s later

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: api-1
  namespace: shop
  creationTimestamp: "2026-11-20T12:00:00Z"
status:
  containerStatuses:
    - name: api
      lastState:
        terminated: {reason: Error, finishedAt: "2026-11-20T13:55:30Z"}
"""


def make_world(root: Path, **files: str) -> Path:
    defaults = {"world.yaml": "name: tiny\nrecorded_at: '2026-11-20T14:00:00Z'\n"}
    for name, text in {**defaults, **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_every_kind_of_timestamp_moves_by_the_same_delta(tmp_path: Path) -> None:
    root = make_world(
        tmp_path,
        **{
            "cluster/pods.yaml": POD,
            "logs/shop/api-1/api.previous.log": "2026-11-20T13:55:29.123Z ERROR gateway timeout\n",
            "metrics.om": '# TYPE up gauge\nup{job="api"} 1 1795182000\nup{job="api"} 0 1795182000.5\n# EOF\n',
            "database.sql": "INSERT INTO orders VALUES (1, '2026-11-20 13:40:00+00');\n",
            "changes.yaml": (
                "pull_requests:\n  - {repo: a/b, number: 7, title: t, author: x, merged_at: '2026-11-20T13:30:00Z'}\n"
            ),
            "endpoints.yaml": "tls:\n  - {name: api, host: api.example.com, not_after: '2026-11-22T14:00:00Z'}\n",
        },
    )
    world = load_world(root, now=NOW)
    delta = NOW - RECORDED
    assert world.now == NOW
    pod = world.objects[0]
    assert pod["metadata"]["creationTimestamp"] == "2026-11-21T07:30:15Z"
    assert pod["status"]["containerStatuses"][0]["lastState"]["terminated"]["finishedAt"] == "2026-11-21T09:25:45Z"
    assert world.logs[("shop", "api-1", "api")].previous == "2026-11-21T09:25:44.123Z ERROR gateway timeout\n"
    assert world.logs[("shop", "api-1", "api")].current == ""
    shifted = 1795182000 + int(delta.total_seconds())
    assert f'up{{job="api"}} 1 {shifted}\n' in (world.metrics_om or "")
    assert f'up{{job="api"}} 0 {shifted}.5\n' in (world.metrics_om or "")
    assert "'2026-11-21 09:10:15+00'" in (world.database_sql or "")
    assert world.changes.pull_requests[0].merged_at == datetime(2026, 11, 21, 9, 0, 15, tzinfo=UTC)
    assert world.endpoints.tls[0].not_after - world.now == timedelta(hours=48)


def test_a_world_needs_only_world_yaml(tmp_path: Path) -> None:
    world = load_world(make_world(tmp_path), now=NOW)
    assert world.name == "tiny"
    assert world.objects == [] and world.metrics_om is None and world.database_sql is None
    assert world.expectations.cases == []


def test_kubectl_list_documents_are_expanded(tmp_path: Path) -> None:
    listing = "apiVersion: v1\nkind: List\nitems:\n" + "".join(
        f"  - {{apiVersion: v1, kind: Namespace, metadata: {{name: ns{i}}}}}\n" for i in range(3)
    )
    world = load_world(make_world(tmp_path, **{"cluster/all.yaml": listing}), now=NOW)
    assert [o["metadata"]["name"] for o in world.objects] == ["ns0", "ns1", "ns2"]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"world.yaml": "name: x\n"}, "world {root}: world.yaml: recorded_at: Field required"),
        ({"world.yaml": "name: [x\n"}, "world {root}: world.yaml: invalid YAML: "),
        (
            {"cluster/a.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {}\n"},
            "world {root}: cluster/a.yaml document 1: Pod without metadata.name",
        ),
        (
            {"cluster/a.yaml": "kind: Pod\nmetadata: {name: p}\n---\n"},
            "world {root}: cluster/a.yaml document 1: missing apiVersion",
        ),
        ({"metrics.om": "up 1 1\n"}, "world {root}: metrics.om must end with '# EOF' (OpenMetrics)"),
        (
            {"changes.yaml": "pull_requests:\n  - {repo: a/b, number: seven}\n"},
            "world {root}: changes.yaml: pull_requests.0.number: Input should be a valid integer",
        ),
        (
            {"expect.yaml": "cases:\n  - {id: a, ask: q, must_mentoin: [x]}\n"},
            "world {root}: expect.yaml: cases.0.must_mentoin: Extra inputs are not permitted",
        ),
        (
            {"expect.yaml": "cases:\n  - {id: a}\n"},
            "world {root}: expect.yaml: cases.0: Value error, a case needs exactly one of 'ask'",
        ),
    ],
)
def test_malformed_worlds_name_the_file_and_the_problem(tmp_path: Path, files: dict[str, str], message: str) -> None:
    root = make_world(tmp_path / "w", **files)
    with pytest.raises(WorldError) as caught:
        load_world(root, now=NOW)
    assert str(caught.value).startswith(message.format(root=root.name))
    assert "\n" not in str(caught.value)


def test_unknown_world_lists_the_bundled_ones() -> None:
    with pytest.raises(WorldError, match=r"unknown world 'atlantis': no world.yaml there \(bundled worlds: "):
        load_world("atlantis")


def test_bundled_worlds_load() -> None:
    names = bundled_world_names()
    if not names:
        pytest.fail("no bundled worlds found under worlds/")
    for name in names:
        world = load_world(name, now=NOW)
        assert world.name == name
        assert world.expectations.cases, f"world {name} has no evaluation cases"


def test_shift_is_whole_seconds_and_keeps_the_writing_style() -> None:
    shift = TimeShift(RECORDED, NOW + timedelta(milliseconds=400))
    assert shift.delta == NOW - RECORDED
    assert shift.embedded("at 2026-11-20T13:00:00.5+02:00 and 2026-11-20 13:00:00") == (
        "at 2026-11-21T08:30:15.5+02:00 and 2026-11-21 08:30:15"
    )
    assert shift.text("not a time") == "not a time"
