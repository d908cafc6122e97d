"""The service catalog: which services exist, where they run, and which team owns them.

Questions name services loosely ("the worker pods", "payments", "orders"), so resolution accepts
the name, the name without a conventional suffix, and the owning team's name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict

from agents.answer import Owner

_SUFFIXES = ("-service", "-svc", "-api", "-app", "-server", "-worker")
_WORD = re.compile(r"[a-z0-9][a-z0-9.-]*[a-z0-9]|[a-z0-9]")


def _names(lowered: str, alias: str) -> bool:
    """The alias as a word, or as the prefix of a pod or workload name ("worker-5f8b7c9d6c-t6kqp")."""
    return alias in set(_WORD.findall(lowered)) or (len(alias) > 3 and f"{alias}-" in lowered)


class Service(BaseModel):
    """One catalog entry: the `services` section of the config, and of a world's world.yaml."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    namespace: str
    team: str
    channel: str
    repo: str
    database: str | None = None

    @property
    def owner(self) -> Owner:
        return Owner(service=self.name, team=self.team, channel=self.channel, repo=self.repo)

    def aliases(self) -> set[str]:
        names = {self.name.lower()}
        for suffix in _SUFFIXES:
            if self.name.lower().endswith(suffix):
                names.add(self.name.lower().removesuffix(suffix))
        return names


class Catalog:
    def __init__(self, services: Iterable[Service]) -> None:
        self.services = list(services)

    def __len__(self) -> int:
        return len(self.services)

    def get(self, name: str) -> Service | None:
        return next((service for service in self.services if service.name == name), None)

    def namespaces(self) -> list[str]:
        return sorted({service.namespace for service in self.services})

    def mentioned(self, text: str) -> list[Service]:
        """Services the text names, most specific first; a team name counts when no service matched."""
        lowered = text.lower()
        named = [service for service in self.services if _names(lowered, service.name.lower())]
        # "search-indexer" names search-indexer, not also search-api by its short alias "search".
        rest = lowered
        for service in named:
            rest = re.sub(rf"\b{re.escape(service.name.lower())}(?:-[a-z0-9-]*)?", " ", rest)
        found = named + [
            service
            for service in self.services
            if service not in named and any(_names(rest, alias) for alias in service.aliases())
        ]
        if not found:
            words = set(_WORD.findall(lowered))
            found = [service for service in self.services if service.team.lower() in words]
        return sorted(found, key=lambda service: -len(service.name))

    def owning(self, namespace: str | None, workload: str) -> Service | None:
        """The service a workload (Deployment, pod owner) belongs to."""
        for service in self.services:
            if namespace not in (None, service.namespace):
                continue
            if workload == service.name or workload.startswith(f"{service.name}-"):
                return service
        return None
