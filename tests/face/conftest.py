"""Face fixtures: one engine per session (model files read in place from the shared data)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from node.face.analytic import build_engine
from node.face.engine import FaceEngine
from schemas.config.faces import FacesConfig
from tests.conftest import SharedData

CELEB5 = "datasets/faces/celeb5"


@pytest.fixture(scope="session")
def models_dir(shared_data: SharedData) -> Path:
    shared_data.path("models/yunet_n_320_320.onnx")
    shared_data.path("models/MobileFaceNet.onnx")
    return shared_data.root / "models"


@pytest.fixture(scope="session")
def engine(models_dir: Path) -> FaceEngine:
    return build_engine(FacesConfig(), models_dir=str(models_dir))


@pytest.fixture(scope="session")
def astronaut(shared_data: SharedData) -> npt.NDArray[np.uint8]:
    img = cv2.imread(str(shared_data.path("datasets/images/astronaut.png")), cv2.IMREAD_COLOR)
    assert img is not None
    return np.asarray(img, np.uint8)


@pytest.fixture(scope="session")
def celeb5(shared_data: SharedData) -> Path:
    return shared_data.path(CELEB5)
