"""Built-in commands: ``ping``, ``get_config``, ``set`` and ``snapshot``.

The node app implements ``RuntimeControl`` (live state: which cameras and analytics run) and calls
``register_builtin``. The config object is never changed here: toggles are runtime state owned
by the app, so ``get_config`` always shows what the node was started with.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable
from typing import Any, Protocol

from node import __version__
from node.clock import Clock
from node.commands.dispatcher import CommandContext, CommandDispatcher
from node.commands.errors import CommandError
from schemas.commands import ErrorCode, NoParams, SetParams, SnapshotParams
from schemas.config import NodeConfig

REDACTED = "**********"
# scheme://user:password@host -> keep the user, hide the password (camera URLs carry them).
_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^/:@\s]*:)[^/@\s]*(?=@)")


class RuntimeControl(Protocol):
    """Live switches of a running node. Unknown names raise ``CommandError(NOT_FOUND)``."""

    def set_camera_enabled(self, name: str, enabled: bool) -> None: ...

    def set_analytic_enabled(self, name: str, enabled: bool, camera: str | None) -> None: ...

    def snapshot(self, camera: str) -> bytes | Awaitable[bytes]:
        """A fresh JPEG of the camera's latest frame. May be async; a sync one must be quick
        (it runs on the event loop), so encode in an executor and return an awaitable."""
        ...


def redact(value: Any) -> Any:
    """Hide URL passwords in a JSON-like tree (SecretStr fields are already masked)."""
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return _URL_PASSWORD.sub(lambda m: m.group("head") + REDACTED, value)
    return value


def effective_config(config: NodeConfig) -> dict[str, Any]:
    # mode="json" renders SecretStr as "**********"; URLs need our own pass.
    dumped: dict[str, Any] = redact(config.model_dump(mode="json"))
    return dumped


def _known_analytics(config: NodeConfig) -> list[str]:
    return sorted(type(config.analytics).model_fields)


def _check_names(config: NodeConfig, p: SetParams) -> None:
    cameras = [c.name for c in config.cameras]
    if p.target == "camera" and p.name not in cameras:
        raise CommandError(ErrorCode.NOT_FOUND, f"unknown camera {p.name!r}; known: {cameras}")
    if p.target == "analytic":
        analytics = _known_analytics(config)
        if p.name not in analytics:
            raise CommandError(
                ErrorCode.NOT_FOUND, f"unknown analytic {p.name!r}; known: {analytics}"
            )
        if p.camera is not None and p.camera not in cameras:
            raise CommandError(ErrorCode.NOT_FOUND, f"unknown camera {p.camera!r}")


def register_builtin(
    dispatcher: CommandDispatcher, control: RuntimeControl, config: NodeConfig, clock: Clock
) -> None:
    started = clock.monotonic()

    async def ping(_: NoParams, ctx: CommandContext) -> dict[str, Any]:
        return {
            "node_id": ctx.node_id,
            "version": __version__,
            "uptime_s": round(clock.monotonic() - started, 3),
        }

    async def get_config(_: NoParams, ctx: CommandContext) -> dict[str, Any]:
        return {"config": effective_config(config)}

    async def set_(p: SetParams, ctx: CommandContext) -> dict[str, Any]:
        _check_names(config, p)
        if p.target == "camera":
            control.set_camera_enabled(p.name, p.enabled)
        else:
            control.set_analytic_enabled(p.name, p.enabled, p.camera)
        return p.model_dump(exclude_none=True)

    async def snapshot(p: SnapshotParams, ctx: CommandContext) -> dict[str, Any]:
        if p.camera not in [c.name for c in config.cameras]:
            raise CommandError(ErrorCode.NOT_FOUND, f"unknown camera {p.camera!r}")
        result = control.snapshot(p.camera)
        jpeg = await result if inspect.isawaitable(result) else result
        if not isinstance(jpeg, bytes) or not jpeg:
            raise CommandError(ErrorCode.UNAVAILABLE, f"no frame from camera {p.camera!r} yet")
        topic = ctx.topics.camera_snapshot(p.camera)
        await ctx.publish(topic, jpeg)
        return {"camera": p.camera, "topic": topic, "bytes": len(jpeg)}

    dispatcher.register("ping", NoParams, ping)
    dispatcher.register("get_config", NoParams, get_config)
    dispatcher.register("set", SetParams, set_)
    dispatcher.register("snapshot", SnapshotParams, snapshot)
