"""The `whisperer` command line (CONTRACT.md, section 2).

Start-up must stay fast (`whisperer --help` is typed by people), so every command imports what
it needs inside its own handler. Exit codes are part of the contract: 0 done, 1 evaluation
failures, 2 unusable input or configuration, 3 refused by a guardrail.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from bot.config import Config

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_REFUSED = 3

Handler = Callable[[argparse.Namespace], int]


class CliError(Exception):
    """Ends the command with one line on stderr and an exit code."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def _cmd_run(args: argparse.Namespace) -> int:
    import os

    from bot.config import ConfigError, load_config
    from bot.observability.endpoints import MetricsPortError
    from bot.slack.socket import SlackConnectError, check_tokens

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        raise CliError(str(exc)) from exc
    bot_token, app_token = os.environ.get("SLACK_BOT_TOKEN"), os.environ.get("SLACK_APP_TOKEN")
    missing = [name for name, value in (("SLACK_BOT_TOKEN", bot_token), ("SLACK_APP_TOKEN", app_token)) if not value]
    if missing:
        raise CliError(f"whisperer run: {' and '.join(missing)} must be set (see README: Connecting to Slack)")
    asyncio.run(_check_store(config.store_url))
    try:
        tokens = check_tokens(bot_token, app_token)
        asyncio.run(_serve_slack(config, *tokens))
    except (SlackConnectError, MetricsPortError) as exc:
        raise CliError(f"whisperer run: {exc}") from exc
    return EXIT_OK


async def _serve_slack(config: Config, bot_token: str, app_token: str) -> None:
    """Serve until SIGINT or SIGTERM, running the scheduled checks and taking over fixes of stopped replicas.

    On the signal no new envelope is taken; answers in progress get a grace period and are then
    marked interrupted in their threads (`bot.slack.socket.serve`); then the recovery sweep and
    the scheduler stop (check runs in progress finish) and the command exits 0.
    With `metrics.enabled`, the metrics/health port is up from the start, so probes see "not ready"
    until Socket Mode is connected rather than a refused connection.
    """
    import os
    import signal

    from bot.observability.endpoints import serving_metrics
    from bot.observability.metrics import BotMetrics
    from bot.observability.readiness import Readiness
    from bot.observability.tracing import exporting_traces
    from bot.runtime import open_runtime
    from bot.slack.socket import serve
    from bot.slack_wiring import approver_groups, recovery_sweep, scheduled_digests, slack_deps
    from bot.sources import configured_sources

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    groups = approver_groups(config, bot_token, config.slack.base_url)
    metrics = BotMetrics() if config.metrics.enabled else None
    sources = configured_sources(config, dict(os.environ))
    async with (
        exporting_traces(config),
        open_runtime(config, sources, groups=groups, metrics=metrics) as runtime,
        scheduled_digests(runtime, bot_token, config.slack.base_url),
    ):
        deps = slack_deps(runtime, bot_token, config.slack.base_url)
        async with recovery_sweep(runtime, deps):
            if metrics is None:
                await serve(deps, app_token, stop)
                return
            readiness = Readiness(runtime.store)
            async with serving_metrics(metrics, readiness.problem, config.metrics.host, config.metrics.port):
                await serve(deps, app_token, stop, on_connect=readiness.connected)


async def _check_store(url: str) -> None:
    """Refuses to start against a store it cannot reach, before anything is posted or half-written."""
    from store import StoreError, open_store

    try:
        store = await open_store(url)
    except StoreError as exc:
        raise CliError(f"whisperer run: {exc}") from exc
    await store.close()


def _cmd_config_check(args: argparse.Namespace) -> int:
    from bot.config import ConfigError, config_path, load_config

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        raise CliError(str(exc)) from exc
    source = config_path(args.config) or "built-in defaults"
    print(
        f"{source}: ok ({len(config.services)} services, {len(config.kubernetes.clusters)} clusters, "
        f"{len(config.databases)} databases, {len(config.checks)} checks, "
        f"models {'on' if config.models.enabled else 'off'}, store {config.store_url.split(':', 1)[0]})"
    )
    return EXIT_OK


def _cmd_sandbox_up(args: argparse.Namespace) -> int:
    from sandbox.up import serve_until_stopped
    from sandbox.world import WorldError, load_world

    try:
        world = load_world(args.world)
    except WorldError as exc:
        raise CliError(str(exc)) from exc
    return asyncio.run(serve_until_stopped(world))


def _cmd_guard_sql(args: argparse.Namespace) -> int:
    from guardrails.sql_gate import check_sql

    result = check_sql(args.sql)
    if not result.allowed:
        raise CliError(result.reason or "refused", EXIT_REFUSED)
    print(result.normalized)
    return EXIT_OK


def _cmd_redact(args: argparse.Namespace) -> int:
    from bot.config import ConfigError, load_config
    from guardrails.redaction import Redactor

    try:
        settings = load_config(args.config).redaction
    except ConfigError as exc:
        raise CliError(str(exc)) from exc
    redactor = Redactor(allow_list=settings.allow_list, name_columns=settings.name_columns, ner=settings.ner)
    sys.stdout.write(redactor.redact(sys.stdin.read()).text)
    return EXIT_OK


def _cmd_check(args: argparse.Namespace) -> int:
    from bot.check_once import CheckUnavailableError, run_check_once
    from bot.config import ConfigError
    from bot.session import command_runtime
    from sandbox.world import WorldError
    from scheduled_checks.registry import UnknownCheckError, get_check
    from store import StoreError

    async def run() -> str:
        async with command_runtime(args.config, args.world) as runtime:
            return await run_check_once(args.name, runtime.toolbox)

    try:
        get_check(args.name)
        print(asyncio.run(run()))
    except (UnknownCheckError, WorldError, ConfigError, StoreError, CheckUnavailableError) as exc:
        raise CliError(f"whisperer check: {exc}") from exc
    return EXIT_OK


def _cmd_ask(args: argparse.Namespace) -> int:
    import json

    from agents.question import Question
    from bot.config import ConfigError
    from bot.session import command_runtime
    from sandbox.world import WorldError

    async def answer() -> int:
        async with command_runtime(args.config, args.world) as runtime:
            result = await runtime.assistant.ask(Question(text=args.question, via="ask"))
        print(json.dumps(result.contract_view(), indent=2) if args.json else result.text)
        return EXIT_REFUSED if result.refused else EXIT_OK

    if not args.question.strip():
        raise CliError('whisperer ask: the question is empty (e.g. whisperer ask "why is checkout failing?")')
    try:
        return asyncio.run(answer())
    except (WorldError, ConfigError) as exc:
        raise CliError(f"whisperer ask: {exc}") from exc


def _cmd_eval(args: argparse.Namespace) -> int:
    import json

    from bot.config import ConfigError
    from bot.evaluation.runner import CaseResult, evaluate
    from sandbox.world import WorldError

    def show(result: CaseResult) -> None:
        print(result.model_dump_json() if args.json else result.line(), flush=True)

    try:
        passed, failed = asyncio.run(evaluate(args.paths, args.config, show))
    except (WorldError, ConfigError, FileNotFoundError) as exc:
        raise CliError(f"whisperer eval: {exc}") from exc
    print(json.dumps({"passed": passed, "failed": failed}) if args.json else f"{passed} passed, {failed} failed")
    return EXIT_FAILED if failed else EXIT_OK


def _cmd_audit(args: argparse.Namespace) -> int:
    from bot.audit_view import run_audit_command
    from bot.config import ConfigError, load_config
    from store import StoreError, open_store

    async def show(url: str) -> str:
        store = await open_store(url)
        try:
            return await run_audit_command(store, limit=args.limit, kind=args.kind)
        finally:
            await store.close()

    try:
        print(asyncio.run(show(load_config(args.config).store_url)))
    except (ConfigError, StoreError) as exc:
        raise CliError(f"whisperer audit: {exc}") from exc
    return EXIT_OK


def _cmd_mcp_serve(args: argparse.Namespace) -> int:
    from bot.config import ConfigError
    from bot.runtime import CERT_EXPIRY, read_servers
    from bot.session import command_sources
    from guardrails.redaction import Redactor
    from sandbox.world import WorldError
    from store import open_store
    from tools.serving import serve

    async def run() -> None:
        async with command_sources(args.config, args.world) as (config, sources, store_url):
            store = await open_store(store_url)
            try:
                redactor = Redactor(allow_list=config.redaction.allow_list)
                servers = read_servers(sources, store, redactor, config.web.chromium, config.checks.get(CERT_EXPIRY))
                if args.name not in servers:
                    available = ", ".join(sorted(servers)) or "none configured"
                    raise CliError(f"whisperer mcp serve: no server {args.name!r} here (available: {available})")
                await serve(servers[args.name], args.transport)
            finally:
                await store.close()

    try:
        asyncio.run(run())
    except (WorldError, ConfigError) as exc:
        raise CliError(f"whisperer mcp serve: {exc}") from exc
    except KeyboardInterrupt:
        pass
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    from bot.config import ConfigError
    from bot.demo import run_demo
    from sandbox.world import DEFAULT_WORLD, WorldError

    try:
        asyncio.run(
            run_demo(
                args.config, args.world or DEFAULT_WORLD, args.interactive, lambda t: print(t, flush=True), args.verbose
            )
        )
    except (WorldError, ConfigError) as exc:
        raise CliError(f"whisperer demo: {exc}") from exc
    return EXIT_OK


def _add_world(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--world",
        metavar="W",
        help=f"a bundled world's name or a path to a world folder; {what}",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="whisperer",
        description="InfraWhisperer: ask your infrastructure questions from Slack; approve fixes with a button.",
    )
    # The global options are accepted before or after the command, as people type them both ways.
    parser.set_defaults(config=None, verbose=False)
    common = argparse.ArgumentParser(add_help=False)
    for target in (parser, common):
        target.add_argument(
            "--config",
            metavar="FILE",
            default=argparse.SUPPRESS,
            help="config file (default: $WHISPERER_CONFIG or ./whisperer.yaml)",
        )
        target.add_argument(
            "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="human-readable debug logs"
        )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = commands.add_parser("run", parents=[common], help="connect to Slack in Socket Mode and serve until stopped")
    run.set_defaults(handler=_cmd_run)

    demo = commands.add_parser(
        "demo", parents=[common], help="play a world's cases through a Slack stand-in; print the transcript"
    )
    _add_world(demo, "default: the flagship world")
    demo.add_argument("--interactive", action="store_true", help="type questions yourself; 'approve N' / 'reject N'")
    demo.set_defaults(handler=_cmd_demo)

    ask = commands.add_parser("ask", parents=[common], help="ask one question through the agents, without Slack")
    _add_world(ask, "default: the configured infrastructure")
    ask.add_argument("--json", action="store_true", help="print the structured result instead of the text")
    ask.add_argument("question", help="the question, in quotes")
    ask.set_defaults(handler=_cmd_ask)

    evaluate = commands.add_parser("eval", parents=[common], help="run the evaluation cases of every world under PATH")
    evaluate.add_argument("paths", nargs="*", metavar="PATH", help="worlds or folders of worlds (default: bundled)")
    evaluate.add_argument("--json", action="store_true", help="one JSON object per case, then the totals")
    evaluate.set_defaults(handler=_cmd_eval)

    sandbox = commands.add_parser("sandbox", help="local infrastructure served from a world folder")
    sandbox_commands = sandbox.add_subparsers(dest="sandbox_command", metavar="SUBCOMMAND", required=True)
    up = sandbox_commands.add_parser(
        "up", parents=[common], help="serve a world's endpoints; first line is their JSON; Ctrl-C stops"
    )
    _add_world(up, "default: the flagship world")
    up.set_defaults(handler=_cmd_sandbox_up)

    check = commands.add_parser("check", parents=[common], help="run one scheduled check now and print its findings")
    check.add_argument("name", help="the check, e.g. cert-expiry")
    _add_world(check, "default: the configured infrastructure")
    check.add_argument("--once", action="store_true", required=True, help="run once and exit (required)")
    check.set_defaults(handler=_cmd_check)

    mcp = commands.add_parser("mcp", help="the project's MCP servers")
    mcp_commands = mcp.add_subparsers(dest="mcp_command", metavar="SUBCOMMAND", required=True)
    serve = mcp_commands.add_parser("serve", parents=[common], help="run one MCP server standalone")
    serve.add_argument(
        "name", help="kubernetes, metrics, database, incidents, changes, certificates or web (each where configured)"
    )
    serve.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    _add_world(serve, "default: the configured infrastructure")
    serve.set_defaults(handler=_cmd_mcp_serve)

    audit = commands.add_parser("audit", parents=[common], help="read the audit log: questions, tool calls, decisions")
    audit.add_argument("--limit", type=int, default=50, help="newest N events (default: 50)")
    audit.add_argument("--kind", help="only this kind: question, tool_call, proposal, decision, execution, ...")
    audit.set_defaults(handler=_cmd_audit)

    guard = commands.add_parser("guard", help="try a guardrail from the command line")
    guard_commands = guard.add_subparsers(dest="guard_command", metavar="SUBCOMMAND", required=True)
    sql = guard_commands.add_parser(
        "sql", parents=[common], help="print the normalized read-only query, or refuse it (exit 3)"
    )
    sql.add_argument("sql", metavar="SQL")
    sql.set_defaults(handler=_cmd_guard_sql)

    redact = commands.add_parser("redact", parents=[common], help="redact PII and secrets from stdin to stdout")
    redact.set_defaults(handler=_cmd_redact)

    config = commands.add_parser("config", help="inspect the configuration")
    config_commands = config.add_subparsers(dest="config_command", metavar="SUBCOMMAND", required=True)
    config_check = config_commands.add_parser(
        "check", parents=[common], help="validate the config file and summarize it"
    )
    config_check.set_defaults(handler=_cmd_config_check)
    return parser


def _fail(message: str, code: int) -> NoReturn:
    print(message, file=sys.stderr)
    raise SystemExit(code)


def main(argv: Sequence[str] | None = None) -> int:
    from bot.logs import configure_logging

    args = build_parser().parse_args(argv)
    configure_logging(verbose=args.verbose)
    handler: Handler = args.handler
    try:
        return handler(args)
    except CliError as exc:
        _fail(str(exc), exc.code)
    except KeyboardInterrupt:
        return EXIT_OK
