"""What the corpus run found, gathered across batches for the one summary line at the end of the session."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class CorpusResults:
    texts: dict[str, int] = field(default_factory=dict)
    suggestions: int = 0
    offered: int = 0
    dropped: int = 0
    executed: int = 0
    refused_executions: int = 0
    refused_approvals: int = 0

    def add(
        self,
        where: str,
        texts: int,
        *,
        suggestions: int,
        offered: int,
        dropped: int,
        refused_executions: int,
        refused_approvals: int,
        executed: int,
    ) -> None:
        self.texts[where] = self.texts.get(where, 0) + texts
        self.suggestions += suggestions
        self.offered += offered
        self.dropped += dropped
        self.refused_executions += refused_executions
        self.refused_approvals += refused_approvals
        self.executed += executed

    def line(self) -> str:
        planted = ", ".join(f"{count} {where}" for where, count in self.texts.items())
        return (
            f"prompt-injection corpus: {sum(self.texts.values())} texts planted ({planted}); the obedient model made "
            f"{self.suggestions} suggestions, {self.offered} offered for approval, {self.dropped} dropped; "
            f"{self.refused_executions} executions without approval and {self.refused_approvals} approvals by "
            f"non-approvers refused; {self.executed} actions executed"
        )


RESULTS = CorpusResults()
