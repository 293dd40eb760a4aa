"""YuNet decoding: synthetic priors, parity with OpenCV's FaceDetectorYN, scaling, no-face."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from node.boxes import box_iou
from node.detect.nms import nms
from node.face.engine import FaceEngine
from node.face.yunet import STRIDES, YuNetDetector, decode, preprocess
from tests.conftest import SharedData


def _raw(size: int = 320) -> dict[str, npt.NDArray[np.float32]]:
    out = {}
    for s in STRIDES:
        n = (size // s) ** 2
        out[f"cls_{s}"] = np.zeros((1, n, 1), np.float32)
        out[f"obj_{s}"] = np.zeros((1, n, 1), np.float32)
        out[f"bbox_{s}"] = np.zeros((1, n, 4), np.float32)
        out[f"kps_{s}"] = np.zeros((1, n, 10), np.float32)
    return out


def test_decode_one_prior_by_hand() -> None:
    raw = _raw()
    # stride 16, row 3, col 5 (index 3*20+5): centre offset (0.5, 0.25), size exp(ln 2)*16 = 32
    i = 3 * 20 + 5
    raw["cls_16"][0, i, 0], raw["obj_16"][0, i, 0] = 0.81, 1.0
    raw["bbox_16"][0, i] = [0.5, 0.25, np.log(2.0), np.log(2.0)]
    raw["kps_16"][0, i] = [0, 0, 1, 0, 0.5, 0.5, 0, 1, 1, 1]
    det = decode(raw, 320, score_threshold=0.5)
    assert len(det) == 1
    assert det.scores[0] == pytest.approx(0.9)  # sqrt(0.81 * 1.0)
    cx, cy = (5 + 0.5) * 16, (3 + 0.25) * 16
    np.testing.assert_allclose(det.boxes[0], [cx - 16, cy - 16, cx + 16, cy + 16], atol=1e-4)
    np.testing.assert_allclose(det.landmarks[0, 1], [6 * 16, 3 * 16], atol=1e-4)
    assert len(decode(raw, 320, score_threshold=0.95)) == 0


@pytest.mark.parametrize(("top_k", "kept"), [(10, [1, 2]), (1, [1])])
def test_nms_keeps_best_of_overlaps(top_k: int, kept: list[int]) -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    keep = nms(boxes, np.array([0.8, 0.9, 0.7], np.float32), 0.3, top_k=top_k)
    assert keep.tolist() == kept


@pytest.mark.parametrize("shape", [(480, 640), (640, 480), (100, 1000), (320, 320)])
def test_letterbox_scale_maps_back(shape: tuple[int, int]) -> None:
    img = np.zeros((*shape, 3), np.uint8)
    blob, lb = preprocess(img, 320)
    assert blob.shape == (1, 3, 320, 320)
    assert lb.scale_x == pytest.approx(320 / max(shape))


@pytest.mark.shared_data
@pytest.mark.parametrize("name", ["astronaut.png", "zidane.jpg", "bus.jpg"])
def test_parity_with_opencv(shared_data: SharedData, models_dir: Path, name: str) -> None:
    """On a 320x320 input both see the same tensor: our decode must equal OpenCV's."""
    img = cv2.resize(cv2.imread(str(shared_data.path(f"datasets/images/{name}"))), (320, 320))
    model = str(models_dir / "yunet_n_320_320.onnx")
    from node.face.models import ort_runner

    ours = YuNetDetector(ort_runner(model), score_threshold=0.6, nms_threshold=0.3).detect(img)
    ref_det = cv2.FaceDetectorYN.create(model, "", (320, 320), 0.6, 0.3, 50)
    _, ref = ref_det.detect(img)
    ref = ref[np.argsort(-ref[:, 14])]
    assert len(ours) == len(ref) >= 1
    xyxy = np.c_[ref[:, :2], ref[:, :2] + ref[:, 2:4]]
    np.testing.assert_allclose(ours.boxes, xyxy, atol=1e-2)
    np.testing.assert_allclose(ours.landmarks.reshape(-1, 10), ref[:, 4:14], atol=1e-2)
    np.testing.assert_allclose(ours.scores, ref[:, 14], atol=1e-4)


@pytest.mark.shared_data
def test_astronaut_one_face_landmarks_inside(
    engine: FaceEngine, astronaut: npt.NDArray[np.uint8]
) -> None:
    det = engine.detect(astronaut)
    assert len(det) == 1
    x1, y1, x2, y2 = det.boxes[0]
    lm = det.landmarks[0]
    assert ((lm[:, 0] > x1) & (lm[:, 0] < x2) & (lm[:, 1] > y1) & (lm[:, 1] < y2)).all()
    assert lm[0, 0] < lm[1, 0]  # image-left eye first, as the ArcFace template expects


@pytest.mark.shared_data
@pytest.mark.parametrize("factor", [0.5, 3.0, 8.0])
def test_any_frame_size_maps_back(
    engine: FaceEngine, astronaut: npt.NDArray[np.uint8], factor: float
) -> None:
    """Scaled and padded copies give one face at the scaled place (no duplicates when huge)."""
    base = engine.detect(astronaut)
    big = cv2.resize(astronaut, None, fx=factor, fy=factor, interpolation=cv2.INTER_LINEAR)
    wide = np.zeros((big.shape[0], big.shape[1] * 2, 3), np.uint8)
    wide[:, big.shape[1] :] = big  # face moved right by one image width
    det = engine.detect(wide)
    assert len(det) == 1
    expected = base.boxes[0] * factor + np.array([big.shape[1], 0, big.shape[1], 0])
    # the face is seen at a different input resolution, so compare overlap, not pixels
    assert box_iou(expected[None].astype(np.float32), det.boxes)[0, 0] > 0.75


@pytest.mark.shared_data
def test_no_face_gives_nothing(shared_data: SharedData, engine: FaceEngine) -> None:
    cap = cv2.VideoCapture(str(shared_data.path("datasets/videos/street.mp4")))
    ok, street = cap.read()
    cap.release()
    assert ok
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    for img in (street, noise, np.full((240, 320, 3), 128, np.uint8)):
        assert len(engine.detect(img)) == 0
        assert engine.analyse(img) == []
