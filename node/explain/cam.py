"""CAM (Zhou et al., CVPR 2016) as an explanation: the classifier's own class activation map.

For a classifier ``sigmoid(w_k . mean_xy(F) + b_k)`` the map ``w_k . F(x, y) + b_k`` is exactly
each location's share of the class logit, read from the one forward pass of the frame (no extra
passes: ``masks`` is 0). This is the classifier head's map, i.e. what the score rests on; the fire
analytic's snapshot boxes may come from its separate localisation head instead.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from node.explain.maps import FloatMap, resize_map
from node.fire.cam import class_activation_map


def explain_cam(
    features: npt.NDArray[np.float32],
    weight: npt.NDArray[np.float32],
    bias: float,
    size_hw: tuple[int, int],
) -> FloatMap:
    """The CAM of one class from ``features`` (C, h, w), resized to ``size_hw`` (working pixels)."""
    grid = class_activation_map(features, weight, bias)
    return resize_map(grid, size_hw[1], size_hw[0])
