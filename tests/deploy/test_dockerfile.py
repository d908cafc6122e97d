"""The Dockerfile's essentials, read from the file itself.

There is no Docker engine on the machines these tests run on, so the image is never built here:
these checks parse the Dockerfile and catch the mistakes that would otherwise show only in a
registry (a stage running as root, an unlocked install, a package left out of the image).
"""

from __future__ import annotations

import re
import shlex
import tomllib
from dataclasses import dataclass, field

import yaml

from guardrails.secret_patterns import scrub_secrets
from tests.deploy.conftest import DEPLOY, ROOT

SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|API_KEY|DSN", re.IGNORECASE)


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [argument for instruction, argument in self.instructions if instruction == keyword]


def parse_dockerfile(text: str) -> tuple[list[tuple[str, str]], list[Stage]]:
    """(instructions before the first FROM, stages); continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    preamble: list[tuple[str, str]] = []
    stages: list[Stage] = []
    for line in filter(None, (line.strip() for line in joined.splitlines())):
        keyword, _, argument = line.partition(" ")
        keyword, argument = keyword.upper(), " ".join(argument.split())
        if keyword == "FROM":
            words = argument.split()
            stages.append(Stage(words[0], words[2] if len(words) > 2 and words[1].upper() == "AS" else None))
        elif stages:
            stages[-1].instructions.append((keyword, argument))
        else:
            preamble.append((keyword, argument))
    return preamble, stages


PREAMBLE, STAGES = parse_dockerfile((ROOT / "Dockerfile").read_text(encoding="utf-8"))
DEFAULTS = dict(argument.split("=", 1) for keyword, argument in PREAMBLE if keyword == "ARG" and "=" in argument)
RUNTIME = STAGES[-1]


def resolved(base: str) -> str:
    return re.sub(r"\$\{(\w+)\}", lambda match: DEFAULTS[match.group(1)], base)


def test_a_uv_builder_installs_the_locked_environment_without_dev_tools() -> None:
    assert len(STAGES) >= 2
    builder = next(stage for stage in STAGES if stage.name == "builder")
    syncs = [shlex.split(command) for command in builder.all("RUN") if "uv sync" in command]
    assert syncs, "the builder never runs uv sync"
    for sync in syncs:
        assert "--frozen" in sync and "--no-dev" in sync, f"unlocked or dev install: {' '.join(sync)}"
    assert "UV_PROJECT_ENVIRONMENT=/app/.venv" in " ".join(builder.all("ENV"))
    assert "pyproject.toml uv.lock" in " ".join(builder.all("COPY"))


def test_the_runtime_is_slim_python_311_with_only_the_venv_from_the_builder() -> None:
    assert resolved(RUNTIME.base) == "python:3.11-slim"
    assert resolved(RUNTIME.base) == resolved(STAGES[1].base), "the venv's interpreter path must match the builder's"
    from_builder = [argument for argument in RUNTIME.all("COPY") if argument.startswith("--from=")]
    assert from_builder == ["--from=builder /app/.venv ./.venv"]
    assert not any("uv" in argument.split("/")[-1] for argument in RUNTIME.all("COPY"))


def test_every_package_of_the_project_and_the_runbooks_are_in_the_image() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = set(project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"])
    copied = {argument.split()[0] for argument in RUNTIME.all("COPY") if not argument.startswith("--from=")}
    assert packages | {"runbooks"} <= copied
    assert all((ROOT / source).exists() for source in copied)


def test_it_runs_as_the_non_root_user_the_deployment_expects() -> None:
    (user,) = RUNTIME.all("USER")
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0, "a numeric non-root uid lets the kubelet verify runAsNonRoot"
    deployment = yaml.safe_load((DEPLOY / "deployment.yaml").read_text(encoding="utf-8"))
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == int(uid)
    last_user = max(i for i, (keyword, _) in enumerate(RUNTIME.instructions) if keyword == "USER")
    assert not any(keyword == "RUN" for keyword, _ in RUNTIME.instructions[last_user:])


def test_chromium_is_installed_only_behind_the_build_argument() -> None:
    assert "WITH_CHROMIUM=false" in RUNTIME.all("ARG")
    chromium = [command for command in RUNTIME.all("RUN") if "chromium" in command]
    assert len(chromium) == 1
    assert re.search(r'if \[ "\$WITH_CHROMIUM" = "true" \]; then apt-get update .* chromium', chromium[0])
    assert not any("chromium" in command for stage in STAGES[:-1] for command in stage.all("RUN"))


def test_entrypoint_and_command_and_no_healthcheck() -> None:
    assert RUNTIME.all("ENTRYPOINT") == ['["whisperer"]']
    assert RUNTIME.all("CMD") == ['["run"]']
    assert not any(keyword == "HEALTHCHECK" for stage in STAGES for keyword, _ in stage.instructions)


def test_no_secrets_are_baked_in() -> None:
    settings = [argument for stage in STAGES for keyword, argument in stage.instructions if keyword in {"ENV", "ARG"}]
    for setting in settings + [argument for _, argument in PREAMBLE]:
        assert not SECRET_NAME.search(setting), f"a secret-named build setting: {setting}"
    assert not scrub_secrets((ROOT / "Dockerfile").read_text(encoding="utf-8"))[1]
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".git", ".venv", ".env", "whisperer.yaml"} <= set(ignored)


def test_the_parser_reads_stages_and_continuations() -> None:
    preamble, stages = parse_dockerfile("ARG A=1\nFROM x AS b\n# note\nRUN one \\\n  two\nFROM y\nUSER 5\n")
    assert preamble == [("ARG", "A=1")]
    assert [(stage.base, stage.name) for stage in stages] == [("x", "b"), ("y", None)]
    assert stages[0].all("RUN") == ["one two"] and stages[1].all("USER") == ["5"]
