"""The unit of data flowing from a source to the analytics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]


@dataclass(frozen=True, eq=False)
class Frame:
    """One decoded frame. ``image`` is BGR uint8 HxWx3 and must not be mutated downstream.

    eq=False: frames are compared by identity; comparing pixel arrays is never what we want.
    """

    camera: str
    index: int
    image: Image
    captured_at: float  # wall clock, epoch seconds
    monotonic: float  # for intervals

    def __post_init__(self) -> None:
        if self.image.ndim != 3 or self.image.shape[2] != 3 or self.image.dtype != np.uint8:
            raise ValueError(
                f"frame image must be HxWx3 uint8 BGR, got shape {self.image.shape} "
                f"dtype {self.image.dtype}"
            )

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])
