"""Shared set-up of the torch-side fire tests: random networks and images for export parity,
and the few-image split and config of a smoke training. Imports torch lazily, so collecting the
tests that skip without torch still works."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from tests.conftest import SharedData

if TYPE_CHECKING:
    from models.fire.data import Split
    from models.fire.net import FireNet
    from models.fire.train import TrainConfig


def random_net(seed: int, blocks: int = 14) -> FireNet:
    """A FireNet in eval mode with random BN statistics, so parity sees non-trivial activations."""
    import torch

    from models.fire.net import FireNet

    torch.manual_seed(seed)
    net = FireNet(blocks).eval()
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
    return net


def random_images(folder: Path, n: int = 3) -> list[Path]:
    """``n`` noise images of different heights (the node's pre-processing resizes each)."""
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        p = folder / f"img{i}.png"
        cv2.imwrite(str(p), rng.integers(0, 255, (48 + 16 * i, 80, 3), dtype=np.uint8))
        out.append(p)
    return out


def smoke_split(shared_data: SharedData) -> Split:
    """A handful of labelled valid/ images (no de-duplication pass): this checks the loop."""
    from models.fire.data import Split, load_yolo_split

    pool = load_yolo_split(shared_data.path("datasets/fire_smoke/valid"), "valid")
    kinds = {s.kind: s for s in pool}
    fit = [*pool[:3], kinds["fire"], kinds["smoke"]]
    return Split(fit=fit, val=pool[-3:], test=[], heldout_negatives=[])


def smoke_config(shared_data: SharedData, out: Path, **overrides: Any) -> TrainConfig:
    """Two steps of one epoch on 96 px images, one thread."""
    from models.fire.train import TrainConfig

    base: dict[str, Any] = {
        "data": shared_data.path("datasets/fire_smoke"),
        "out": out,
        "pretrained": shared_data.path("models/mobilenet_v2-b0353104.pth"),
        "epochs": 1,
        "batch_size": 4,
        "input_size": 96,
        "max_images": 8,
        "max_steps": 2,
        "threads": 1,
        "progress": False,
    }
    return TrainConfig(**{**base, **overrides})
