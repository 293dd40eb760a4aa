"""MoveNet MultiPose on one frame: the movement analytic's pose stage (``PoseEstimator``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from node.movement.pose import Poses, decode, input_size_for, preprocess


class PoseSession(Protocol):
    def run(self, feeds: Mapping[str, npt.NDArray[Any]]) -> list[npt.NDArray[Any]]: ...


class PoseEstimator:
    """MoveNet MultiPose on one frame (``run`` is the model; the input name is its first)."""

    def __init__(self, session: Callable[[], PoseSession], input_name: str, long_side: int = 256,
                 min_score: float = 0.1) -> None:
        self._session = session
        self._input = input_name
        self._long_side = long_side
        self._min_score = min_score

    def estimate(self, image: npt.NDArray[np.uint8]) -> Poses:
        pin = preprocess(image, input_size_for(image.shape[:2], self._long_side))
        raw = self._session().run({self._input: pin.tensor})[0]
        return decode(np.asarray(raw, np.float32), pin, self._min_score)
