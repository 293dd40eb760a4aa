"""``Subject``: one image, one model, one score to explain, seen as perturbation methods need it.

Perturbation methods (RISE, D-RISE, occlusion, LIME) only need to change pixels and read a score
back, so a model enters them through a ``Subject``: the *working image* (what the model sees, at
its input geometry), the colour a removed pixel takes, a batched score function, and the map from
working pixels back to the original image. The model adapters in ``node.explain.subjects`` build
them; tests build them around tiny synthetic models.

``Budget`` caps the forward passes and carries the deadline; methods call ``scores`` below, which
checks the deadline between batches, so a request never runs past it by more than one batch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from node.explain.errors import DeadlineError
from node.explain.maps import FloatMap, Image

BGR = tuple[float, float, float]
ScoreBatch = Callable[[npt.NDArray[np.uint8]], npt.NDArray[np.float32]]


@dataclass(frozen=True, eq=False)
class Subject:
    """``score`` maps (N, h, w, 3) uint8 BGR working images to (N,) scores of the target.

    ``fill`` is what a removed pixel becomes. ``to_image`` maps a working map to the original
    image's pixels. ``mask_cells`` is the side
    (in cells) of RISE's random grids that suits this model's input (coarser than its receptive
    field, finer than its objects). ``batch`` is how many images one ``score`` call may take.
    """

    model: str
    target: str
    working: Image
    fill: BGR | Image  # a colour, or an image of the working size (insertion's blurred start)
    score: ScoreBatch
    to_image: Callable[[FloatMap], FloatMap]
    batch: int = 16
    mask_cells: int = 8

    def __post_init__(self) -> None:
        w = self.working
        if w.ndim != 3 or w.shape[2] != 3 or w.dtype != np.uint8:
            raise ValueError(f"working image must be HxWx3 uint8, got {w.shape} {w.dtype}")
        if self.batch < 1 or self.mask_cells < 1:
            raise ValueError(f"batch and mask_cells must be >= 1, got {self.batch}, "
                             f"{self.mask_cells}")  # fmt: skip

    @property
    def size(self) -> tuple[int, int]:
        """``(height, width)`` of the working image."""
        return int(self.working.shape[0]), int(self.working.shape[1])

    def blend(self, keep: npt.NDArray[np.float32]) -> npt.NDArray[np.uint8]:
        """Working images with each pixel kept in proportion to ``keep`` (N, h, w) in 0-1 and
        the rest replaced by ``fill``."""
        k = keep[..., None]
        fill = np.asarray(self.fill, dtype=np.float32)
        out = self.working.astype(np.float32)[None] * k + fill * (1.0 - k)
        blended: npt.NDArray[np.uint8] = np.clip(np.rint(out), 0, 255).astype(np.uint8)
        return blended


@dataclass(frozen=True)
class Budget:
    """At most ``masks`` forward passes, and none started after ``deadline`` (``clock`` time);
    ``seconds`` is how long the request was given (for the message)."""

    masks: int
    deadline: float | None = None
    seconds: float = 0.0
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        if self.masks < 1:
            raise ValueError(f"the budget must allow at least one forward pass, got {self.masks}")

    @classmethod
    def within(cls, masks: int, seconds: float | None,
               clock: Callable[[], float] = time.monotonic) -> Budget:  # fmt: skip
        if seconds is None:
            return cls(masks, clock=clock)
        return cls(masks, clock() + seconds, seconds, clock)

    def check(self, done: int) -> None:
        """Raise ``DeadlineError`` once the deadline has passed."""
        if self.deadline is not None and self.clock() > self.deadline:
            raise DeadlineError(done, self.masks, self.seconds)


def scored_batches(
    subject: Subject, keeps: Iterable[npt.NDArray[np.float32]], budget: Budget
) -> Iterator[tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]]:
    """``(keeps (n, h, w), scores (n,))`` batch by batch: the working image under each keep-mask
    scored, the deadline checked before each batch."""
    done = 0
    for batch in _batches(keeps, subject.batch):
        budget.check(done)
        s = np.asarray(subject.score(subject.blend(batch)), dtype=np.float32).reshape(-1)
        if s.shape[0] != batch.shape[0]:
            raise ValueError(f"score returned {s.shape[0]} values for {batch.shape[0]} images")
        done += batch.shape[0]
        yield batch, s


def scores(
    subject: Subject, keeps: Iterable[npt.NDArray[np.float32]], budget: Budget
) -> npt.NDArray[np.float32]:
    """All scores of ``scored_batches``, in order."""
    out = [s for _, s in scored_batches(subject, keeps, budget)]
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def _batches(
    keeps: Iterable[npt.NDArray[np.float32]], size: int
) -> Iterator[npt.NDArray[np.float32]]:
    chunk: list[npt.NDArray[np.float32]] = []
    for k in keeps:
        chunk.append(k)
        if len(chunk) == size:
            yield np.stack(chunk)
            chunk = []
    if chunk:
        yield np.stack(chunk)
