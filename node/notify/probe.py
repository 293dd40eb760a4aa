"""Test messages (``notify_test``, ``citywatch notify test``): sent now, to a rule's targets, a
group or one target, bypassing the queue, with the service's answer per target."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from node.notify.targets import TargetBook
from node.notify.worker import Sender
from schemas.config.notifications import NotificationsConfig

TEST_TITLE = "citywatch test notification"


@dataclass(frozen=True)
class ProbeResult:
    target: str
    ok: bool
    error: str | None = None


class UnknownNotifyNameError(LookupError):
    """Neither a rule, a group nor a target; ``str()`` lists what is known."""


def targets_of(config: NotificationsConfig, name: str) -> list[str]:
    """The target names ``name`` stands for (a rule's, a group's, or itself)."""
    if name in config.rules:
        return config.expand(config.rules[name])
    if name in config.groups:
        return list(config.groups[name])
    if name in config.targets:
        return [name]
    known = sorted({*config.rules, *config.groups, *config.targets})
    raise UnknownNotifyNameError(f"no rule, group or target named {name!r}; known: {known}")


async def send_test(
    config: NotificationsConfig,
    book: TargetBook,
    sender: Sender,
    name: str,
    node_name: str,
    message: str | None = None,
) -> list[ProbeResult]:
    """One result per target, in order; the sends run in threads, in parallel."""
    body = message or f"Test message from citywatch node {node_name} ({name})."
    loop = asyncio.get_running_loop()

    async def one(t: str) -> ProbeResult:
        res = await loop.run_in_executor(None, sender.send, book.get(t).url, TEST_TITLE, body, ())
        return ProbeResult(t, res.ok, res.error)

    return list(await asyncio.gather(*(one(t) for t in targets_of(config, name))))
