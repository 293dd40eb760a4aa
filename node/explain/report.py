"""An ``Explanation`` as the JSON the CLI prints and the ``explain`` command replies with."""

from __future__ import annotations

from node.explain.maps import Explanation, Image, overlay
from schemas.explain import ExplainReport


def report(
    e: Explanation,
    topic: str | None = None,
    event_id: str | None = None,
    camera: str | None = None,
) -> ExplainReport:
    """The report; the MQTT command fills ``topic``, ``event_id`` and ``camera``."""
    h, w = e.heat.shape
    return ExplainReport(
        method=e.method,
        model=e.model,
        target=e.target,
        peak=e.peak,
        box=e.box,
        masks=e.masks,
        ms=e.ms,
        score=e.score,
        regions=e.regions or None,
        image=(w, h),
        topic=topic,
        event_id=event_id,
        camera=camera,
    )


def overlay_image(image: Image, e: Explanation) -> Image:
    """The image with the map blended in and the mass box drawn."""
    return overlay(image, e.heat, e.box)
