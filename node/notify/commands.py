"""The ``notify_test`` command: a test message to a rule's targets or to one target (or group),
answered with success or each service's error (secrets masked)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from node.commands.dispatcher import CommandContext, CommandDispatcher
from node.commands.errors import CommandError
from node.notify.probe import UnknownNotifyNameError
from schemas.commands import ErrorCode, NotifyTestParams

if TYPE_CHECKING:  # the service registers this command: no import cycle at run time
    from node.notify.service import Notifier


def register_notify_commands(dispatcher: CommandDispatcher, notifier: Notifier) -> None:
    async def notify_test(p: NotifyTestParams, ctx: CommandContext) -> dict[str, Any]:
        kind: Literal["rule", "target"] = "rule" if p.rule is not None else "target"
        name = p.rule or p.target or ""  # the params model requires exactly one
        try:
            results = await notifier.test(name, p.message, kind)
        except UnknownNotifyNameError as err:
            raise CommandError(ErrorCode.NOT_FOUND, str(err)) from None
        failed = [r for r in results if not r.ok]
        if failed:
            why = "; ".join(f"{r.target}: {r.error}" for r in failed)
            sent = [r.target for r in results if r.ok]
            more = f" (sent to {', '.join(sent)})" if sent else ""
            raise CommandError(ErrorCode.NOTIFICATION_FAILED, why + more)
        return {kind: name, "sent": [r.target for r in results]}

    dispatcher.register("notify_test", NotifyTestParams, notify_test)
