"""The events recorded from earlier nodes (``tests/fixtures/events/<version>/``), for the
compatibility tests and as realistic attributes for other tests' events."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from schemas.attributes import EventAttributes, attributes_model
from tests.conftest import REPO

RECORDED = REPO / "tests" / "fixtures" / "events"


@dataclass(frozen=True)
class Recorded:
    file: Path
    line: int
    source: str
    payload: dict[str, Any]

    @property
    def version(self) -> str:
        return self.file.parent.name

    @property
    def id(self) -> str:
        return f"{self.version}/{self.file.stem}:{self.line}"


@cache
def recorded_events() -> tuple[Recorded, ...]:
    """Every recorded event, oldest version first (``<version>/<type>.jsonl``)."""
    out: list[Recorded] = []
    folders = sorted((p for p in RECORDED.iterdir() if p.is_dir()),
                     key=lambda p: tuple(int(n) for n in p.name.split(".")))
    for path in (f for folder in folders for f in sorted(folder.glob("*.jsonl"))):
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            row = json.loads(line)
            out.append(Recorded(path, i, row["source"], row["event"]))
    return tuple(out)


def recorded_attributes(event_type: str, **changes: Any) -> dict[str, Any]:
    """The attributes of the first recorded event of ``event_type``, with ``changes`` applied."""
    for rec in recorded_events():
        if rec.payload["type"] == event_type:
            return {**rec.payload["attributes"], **changes}
    raise KeyError(f"no recorded event of type {event_type!r} in {RECORDED}")


def typed_attributes(event_type: str, **changes: Any) -> EventAttributes:
    """``recorded_attributes`` as the model of ``event_type`` (what an analytic builds)."""
    return attributes_model(event_type).model_validate(recorded_attributes(event_type, **changes))
