"""Synthetic tracks for the zone engine: objects given by their anchor (bottom-centre)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from node.detect.detections import Detections
from node.zones import ZoneEngine, ZoneFrame

HEIGHT = 100.0  # box height of every synthetic object, px
WIDTH = 40.0


@dataclass(frozen=True)
class Obj:
    """One object in one frame: track id, anchor, label, confirmed."""

    tid: int
    x: float
    y: float
    label: str = "person"
    confirmed: bool = True
    height: float = HEIGHT


def detections(objs: Sequence[Obj]) -> tuple[Detections, np.ndarray]:
    boxes = [[o.x - WIDTH / 2, o.y - o.height, o.x + WIDTH / 2, o.y] for o in objs]
    dets = Detections.from_arrays(
        boxes, [0.9] * len(objs), [0] * len(objs), [o.label for o in objs],
        tracker_id=[o.tid for o in objs],
    )  # fmt: skip
    return dets, np.asarray([o.confirmed for o in objs], dtype=np.bool_)


def walk(
    tid: int, start: tuple[float, float], end: tuple[float, float], steps: int, **kw: object
) -> list[Obj]:
    """``steps`` evenly spaced positions from ``start`` to ``end`` (both included)."""
    xs = np.linspace(start[0], end[0], steps)
    ys = np.linspace(start[1], end[1], steps)
    return [Obj(tid, float(x), float(y), **kw) for x, y in zip(xs, ys, strict=True)]  # type: ignore[arg-type]


class Scene:
    """Frames at a fixed rate; each track is a list of per-frame positions (None: unseen)."""

    def __init__(self, fps: float = 10.0) -> None:
        self.fps = fps
        self.frames: list[list[Obj]] = []

    def add(self, start_frame: int, path: Iterable[Obj | None]) -> Scene:
        for k, obj in enumerate(path):
            i = start_frame + k
            while len(self.frames) <= i:
                self.frames.append([])
            if obj is not None:
                self.frames[i].append(obj)
        return self

    def pad(self, n: int) -> Scene:
        """n empty frames at the end (lets lost tracks expire)."""
        self.frames.extend([] for _ in range(n))
        return self

    def run(self, engine: ZoneEngine, t0: float = 0.0) -> list[ZoneFrame]:
        out = []
        for i, objs in enumerate(self.frames):
            dets, confirmed = detections(objs)
            out.append(engine.update(dets, confirmed, t0 + i / self.fps))
        return out


def counts(frames: Sequence[ZoneFrame], line: str | None = None) -> dict[str, int]:
    got = {"in": 0, "out": 0}
    for f in frames:
        for c in f.crossings:
            if line is None or c.line == line:
                got[c.direction] += 1
    return got
