"""``PipelineControl``: the running node's live switches over its camera pipelines.

It is the ``RuntimeControl`` of the ``set`` and ``snapshot`` commands (``node.commands.builtin``),
the face commands' ``FrameProvider`` (``face_enroll {camera}`` reads live frames) and the face
escalation's "do faces run on this camera now?". Each toggle's new state is published retained
(``state/camera/<camera>``, ``state/analytic/<analytic>``); the config is never changed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping
from concurrent.futures import Executor
from typing import Any

from node.commands import CommandError
from node.frame import Frame
from node.mqtt.topics import on_off, toggle_state_suffix
from node.pipeline.camera import CameraPipeline
from node.snapshots import encode_jpeg
from schemas.commands import ErrorCode
from schemas.config.node import SnapshotConfig

SetState = Callable[[str, str], Coroutine[Any, Any, None]]
Spawn = Callable[[Coroutine[Any, Any, None], str], None]


class PipelineControl:
    def __init__(
        self,
        pipelines: Mapping[str, CameraPipeline],
        set_state: SetState,
        snapshots: SnapshotConfig,
        executor: Executor,
        spawn: Spawn,
    ) -> None:
        """``pipelines`` is the node's live mapping (filled when the cameras start); ``spawn``
        runs a state publication as a node task (cancelled at stop)."""
        self._pipelines = pipelines
        self._set_state = set_state
        self._snapshots = snapshots
        self._executor = executor
        self._spawn = spawn

    # -- RuntimeControl (the `set` and `snapshot` commands) -------------------------------------

    def set_camera_enabled(self, name: str, enabled: bool) -> None:
        p = self._pipelines.get(name)
        if p is None:
            raise CommandError(ErrorCode.NOT_FOUND, f"camera {name!r} is not running")
        p.set_camera_enabled(enabled)
        self._publish(toggle_state_suffix("camera", name), enabled)

    def set_analytic_enabled(self, name: str, enabled: bool, camera: str | None) -> None:
        if camera is None:
            targets = list(self._pipelines.values())
        else:
            targets = [self._pipelines[camera]] if camera in self._pipelines else []
        found = 0
        for p in targets:
            try:
                p.set_enabled(name, enabled)
            except KeyError:
                continue  # the analytic does not run on this camera
            found += 1
        if not found:
            where = f"on camera {camera!r}" if camera else "on any camera"
            raise CommandError(ErrorCode.NOT_FOUND, f"analytic {name!r} is not running {where}")
        if camera is None:
            self._publish(toggle_state_suffix("analytic", name), enabled)

    async def snapshot(self, camera: str) -> bytes:
        frame = await self.latest(camera)
        if frame is None:
            return b""
        snap = self._snapshots
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, encode_jpeg, frame.image, snap.max_width, snap.jpeg_quality
        )

    # -- FrameProvider (face commands) ----------------------------------------------------------

    def cameras(self) -> list[str]:
        return list(self._pipelines)

    async def latest(self, camera: str) -> Frame | None:
        p = self._pipelines.get(camera)
        return p.latest_frame if p is not None else None

    # -- the face escalation ---------------------------------------------------------------------

    def faces_on(self, camera: str) -> bool:
        """False where faces are switched off on a running camera (``set`` command)."""
        p = self._pipelines.get(camera)
        return p is None or p.analytics.get("faces", False)

    def _publish(self, suffix: str, enabled: bool) -> None:
        self._spawn(self._set_state(suffix, on_off(enabled)), "state")
