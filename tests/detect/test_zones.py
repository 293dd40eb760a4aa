from __future__ import annotations

import numpy as np
import pytest

from node.detect.detections import Detections
from node.detect.zones import SpatialFilter, as_polygon, points_in_polygon

SQUARE = [(0.0, 0.0), (100.0, 0.0), (100.0, 100.0), (0.0, 100.0)]
L_SHAPE = [(0.0, 0.0), (100.0, 0.0), (100.0, 40.0), (40.0, 40.0), (40.0, 100.0), (0.0, 100.0)]


@pytest.mark.parametrize(
    ("poly", "point", "inside"),
    [
        (SQUARE, (50, 50), True),
        (SQUARE, (150, 50), False),
        (SQUARE, (-1, 50), False),
        (L_SHAPE, (20, 80), True),
        (L_SHAPE, (80, 80), False),  # the notch of the L (concave polygon)
        (L_SHAPE, (80, 20), True),
    ],
)
def test_points_in_polygon(
    poly: list[tuple[float, float]], point: tuple[float, float], inside: bool
) -> None:
    got = points_in_polygon(np.array([point], dtype=np.float32), as_polygon(poly))
    assert got.tolist() == [inside]


def test_polygon_needs_three_points() -> None:
    with pytest.raises(ValueError, match="at least 3"):
        as_polygon([(0, 0), (1, 1)])


def _dets() -> Detections:
    # anchors (bottom-centre): (50, 90) in the square, (250, 90) outside; tiny box at (300, 300)
    return Detections.from_arrays(
        [[40, 10, 60, 90], [240, 10, 260, 90], [299, 299, 301, 301]], [0.9, 0.9, 0.9],
        [0, 0, 0], ["person"] * 3,
    )  # fmt: skip


def test_mask_drops_detections_standing_in_it() -> None:
    f = SpatialFilter.from_camera([SQUARE], {})
    assert f.apply(_dets(), (400, 400)).anchor[:, 0].tolist() == [250, 300]


def test_required_zone_and_zone_names() -> None:
    f = SpatialFilter.from_camera([], {"door": SQUARE, "all": [(0, 0), (400, 0), (0, 400)]},
                                  required_zones=["door"])  # fmt: skip
    kept = f.apply(_dets(), (400, 400))
    assert kept.anchor[:, 0].tolist() == [50]
    assert f.zone_names(_dets()) == [["all", "door"], ["all"], []]


def test_size_filter_uses_frame_fraction() -> None:
    f = SpatialFilter.from_camera([], {}, min_area=1e-4, max_area=0.5)
    kept = f.apply(_dets(), (400, 400))  # tiny box is 4 px of 160000 = 2.5e-5
    assert len(kept) == 2


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"required_zones": ["nope"]}, "not defined"), ({"min_area": 0.5, "max_area": 0.1}, "min")],
)
def test_filter_config_errors(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        SpatialFilter.from_camera([], {}, **kwargs)  # type: ignore[arg-type]
