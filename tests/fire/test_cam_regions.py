"""CAM box region rules: peak, largest, union."""

from __future__ import annotations

import numpy as np
import pytest

from node.fire.cam import cam_box, largest_region_box, union_box


def test_cam_region_rules() -> None:
    mask = np.zeros((10, 10), bool)
    mask[1:3, 1:3] = True  # small region
    mask[5:9, 4:9] = True  # large region
    assert largest_region_box(mask) == (4, 5, 9, 9)
    assert union_box(mask) == (1, 1, 9, 9)
    cam = np.zeros((4, 4), np.float32)
    cam[0, 0] = 1.0
    cam[2:4, 2:4] = 0.9
    peak = cam_box(cam, 128, 128, 0.5, "peak")
    largest = cam_box(cam, 128, 128, 0.5, "largest")
    union = cam_box(cam, 128, 128, 0.5, "union")
    assert peak[2] < 64 and largest[0] > 48 and union[0] == 0 and union[2] == 128
    with pytest.raises(ValueError, match="region"):
        cam_box(cam, 128, 128, 0.5, "biggest")  # type: ignore[arg-type]
