"""Scheduled checks as people read them: `/whisper checks`, and the lines App Home shares with it.

A check's last run says what it looked at and where it posted; a channel that refused the
digest is spelled out with the fix, because otherwise a team silently stops getting findings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from bot.slack.render.blocks import SEVERITY_ICONS, Json, bullet_lines, clip, context, escape, section
from scheduled_checks import CHECK_NAMES
from scheduled_checks.models import CheckRun, CheckSchedule
from store.models import FindingRecord

CHECKS_TEXT = "Scheduled checks"
FINDINGS_SHOWN = 15
_SEVERITY_ORDER = {severity: rank for rank, severity in enumerate(SEVERITY_ICONS)}


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def run_line(run: CheckRun) -> str:
    """'last run …: what was checked, what was found, where it went'."""
    if run.error is not None:
        return f"last run {_when(run.at)} failed: {escape(run.error)}"
    found = f"{run.findings} finding{'s' if run.findings != 1 else ''}"
    where = ", ".join(f"{escape(channel)} ({count})" for channel, count in sorted(run.posted.items()))
    posted = f"; posted to {where}" if where else "; nothing new to post"
    return f"last run {_when(run.at)}: {escape(run.checked)}, {found}{posted}"


def undelivered_lines(runs: Mapping[str, CheckRun]) -> list[str]:
    """One warning per channel that refused a check's last digest."""
    return [
        f"⚠️ *{escape(name)}* digest not posted to {escape(channel)}: {escape(reason)}"
        for name, run in sorted(runs.items())
        for channel, reason in sorted(run.undelivered.items())
    ]


def finding_line(record: FindingRecord) -> str:
    state = ""
    if record.acknowledged_by:
        state = f" · acknowledged by <@{escape(record.acknowledged_by)}>"
    elif record.snoozed_until:
        state = f" · snoozed until {_when(record.snoozed_until)}"
    summary = escape(clip(record.summary or record.key, 300))
    return f"{SEVERITY_ICONS.get(record.severity, '⚪')} {escape(record.check)}: {summary}{state}"


def checks_message(
    schedules: Sequence[CheckSchedule], runs: Mapping[str, CheckRun], findings: Sequence[FindingRecord]
) -> tuple[str, list[Json]]:
    """(fallback text, blocks) for `/whisper checks`: schedules, last runs, open findings."""
    names = [schedule.name for schedule in schedules] + sorted(set(runs) - {s.name for s in schedules})
    if not names:
        available = ", ".join(CHECK_NAMES)
        return CHECKS_TEXT, [section(f"No scheduled checks are configured. Add them under `checks:` ({available}).")]
    by_name = {schedule.name: schedule for schedule in schedules}
    lines = []
    for name in names:
        schedule = by_name.get(name)
        when = "not scheduled here" if schedule is None else escape(schedule.when)
        if schedule is not None and not schedule.enabled:
            when += " (disabled)"
        channel = f" · default channel {escape(schedule.channel)}" if schedule else ""
        last = run_line(runs[name]) if name in runs else "never run yet"
        lines.append(f"*{escape(name)}* · {when}{channel}\n    {last}")
    blocks = [section(f"*{CHECKS_TEXT}*\n{clip(bullet_lines(lines), 2900)}")]
    warnings = undelivered_lines(runs)
    if warnings:
        blocks.append(section(clip("\n".join(warnings), 2900)))
    if findings:
        ordered = sorted(findings, key=lambda record: _SEVERITY_ORDER.get(record.severity, len(_SEVERITY_ORDER)))
        shown = bullet_lines(finding_line(record) for record in ordered[:FINDINGS_SHOWN])
        blocks.append(section(clip(f"*Open findings*\n{shown}", 2900)))
        if len(findings) > FINDINGS_SHOWN:
            blocks.append(context(f"{len(findings) - FINDINGS_SHOWN} more not shown"))
    else:
        blocks.append(context("No open findings."))
    return CHECKS_TEXT, blocks
