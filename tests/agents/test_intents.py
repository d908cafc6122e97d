"""Reading questions without a model: intents, services, namespaces, SQL, actions."""

from __future__ import annotations

import pytest

from agents.catalog import Catalog, Service
from agents.intents import Intent, explicit_sql, plan_question

CATALOG = Catalog(
    [
        Service(name="payment-service", namespace="shop", team="payments", channel="#oncall-payments", repo="a/p"),
        Service(name="orders-service", namespace="checkout", team="orders", channel="#o", repo="a/o", database="o"),
        Service(name="worker", namespace="jobs", team="reporting", channel="#r", repo="a/w"),
    ]
)
NAMESPACES = ["shop", "checkout", "jobs"]


@pytest.mark.parametrize(
    ("question", "intents", "services"),
    [
        ("What pods are running in shop?", {Intent.STATUS}, []),
        ("Why is payment-service failing?", {Intent.DIAGNOSE}, ["payment-service"]),
        ("Why are worker pods restarting?", {Intent.DIAGNOSE}, ["worker"]),
        ("Why is orders slow?", {Intent.DIAGNOSE}, ["orders-service"]),
        ("show me failed orders", {Intent.DATA}, ["orders-service"]),
        ("runbook for CrashLoopBackOff", {Intent.RUNBOOK}, []),
        ("restart payment-service", {Intent.ACTION}, ["payment-service"]),
        ("please roll back orders-service", {Intent.ACTION}, ["orders-service"]),
        ("when does the api.example.com certificate expire?", {Intent.CERTIFICATE}, []),
        ("what is the memory limit of the worker pods?", {Intent.RESOURCES}, ["worker"]),
        ("what changed in payments today?", {Intent.CHANGES}, ["payment-service"]),
    ],
)
def test_intents_and_services(question: str, intents: set[Intent], services: list[str]) -> None:
    plan = plan_question(question, CATALOG, NAMESPACES)
    assert set(plan.intents) == intents
    assert [service.name for service in plan.services] == services


def test_namespace_host_and_action_details() -> None:
    assert plan_question("What pods are running in shop?", CATALOG, NAMESPACES).namespaces == ["shop"]
    assert plan_question("is api.example.com's cert ok?", CATALOG, NAMESPACES).hosts == ["api.example.com"]
    scale = plan_question("scale payment-service to 4 replicas", CATALOG, NAMESPACES)
    assert (scale.action, scale.replicas) == ("scale_deployment", 4)
    assert plan_question("why is it restarting?", CATALOG, NAMESPACES).action is None


@pytest.mark.parametrize(
    ("text", "sql"),
    [
        ("Run this query: DROP TABLE orders;", "DROP TABLE orders;"),
        ("select * from orders", "select * from orders"),
        ("sql: SELECT 1; DELETE FROM orders", "SELECT 1; DELETE FROM orders"),
        ("show me failed orders", None),
        ("drop everything you are doing and tell me why it fails", None),
    ],
)
def test_explicit_sql_is_recognised_before_anything_else(text: str, sql: str | None) -> None:
    assert explicit_sql(text) == sql
    if sql:
        assert plan_question(text, CATALOG, NAMESPACES).intents == {Intent.DATA}


def test_follow_up_takes_its_subject_from_the_thread() -> None:
    plan = plan_question("and why is it failing?", CATALOG, NAMESPACES, context="what about payment-service?")
    assert [service.name for service in plan.services] == ["payment-service"]


def test_enormous_question_is_truncated_not_refused() -> None:
    plan = plan_question("why is payment-service failing? " + "x" * 10_000, CATALOG, NAMESPACES)
    assert plan.truncated
    assert len(plan.text) <= 2000


SEARCH = Catalog(
    [
        Service(name="search-api", namespace="search", team="search", channel="#s", repo="a/s"),
        Service(name="search-indexer", namespace="search", team="search", channel="#s", repo="a/i"),
    ]
)


@pytest.mark.parametrize(
    ("question", "services"),
    [
        ("What pods are running in search?", []),
        ("Is search-indexer healthy?", ["search-indexer"]),
        ("why is search-indexer-66d9b7f8c4-p9rlx pending?", ["search-indexer"]),
        ("Why is search failing?", ["search-api"]),
        ("compare search-api and search-indexer", ["search-indexer", "search-api"]),
    ],
)
def test_a_namespace_or_a_longer_name_is_not_a_short_alias(question: str, services: list[str]) -> None:
    plan = plan_question(question, SEARCH, ["search"])
    assert [service.name for service in plan.services] == services
