"""The node's detector finds the people in bus.jpg and zidane.jpg.

Ground-truth boxes were drawn BY HAND: each image was viewed with a 10/50/100 px grid overlay
(zoomed crops for the edges) and the full visible extent of every person was read off the grid
(hair to shoe sole, outstretched arm included). They were not taken from any model output.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from node.boxes import box_iou
from node.detect.yolox import detect
from tests.conftest import SharedData
from tests.detect.fakes import yolox_manifest

HAND_BOXES: dict[str, list[tuple[str, tuple[float, float, float, float]]]] = {
    "bus.jpg": [  # 810x1080
        ("man in beige coat", (50, 400, 243, 903)),
        ("man in black coat", (223, 405, 345, 860)),
        ("walker cut by the right edge", (670, 395, 810, 878)),
    ],
    "zidane.jpg": [  # 1280x720
        # Zidane, leaning forward, right arm stretched out to the fingertip at x=1150
        ("Zidane", (120, 200, 1150, 720)),
        ("Ancelotti", (750, 43, 1138, 720)),
    ],
}
# Also in bus.jpg, not required: a person cut by the left edge, only an arm and a leg visible
# (0, 550, 78, 870); YOLOX-nano does not report it and neither would most people.


class OrtSession:
    """The smallest adapter from a bare onnxruntime session to the detector's protocol."""

    def __init__(self, path: str) -> None:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        self.manifest = yolox_manifest()

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        out: list[np.ndarray] = self._s.run(None, feeds)
        return out


@pytest.fixture(scope="module")
def session(shared_data: SharedData) -> OrtSession:
    return OrtSession(str(shared_data.path("models/yolox_nano.onnx")))


@pytest.mark.shared_data
@pytest.mark.parametrize("image_name", sorted(HAND_BOXES))
def test_finds_every_hand_annotated_person(
    shared_data: SharedData, session: OrtSession, image_name: str
) -> None:
    image = cv2.imread(str(shared_data.path(f"datasets/images/{image_name}")))
    dets = detect(session, image, score_threshold=0.4, iou_threshold=0.45)
    people = dets[dets.labels == "person"]
    truth = np.asarray([b for _, b in HAND_BOXES[image_name]], dtype=np.float32)
    iou = box_iou(truth, people.xyxy)
    for (who, _), row in zip(HAND_BOXES[image_name], iou, strict=True):
        assert row.size and row.max() >= 0.5, f"{image_name}: {who} not found (IoU {row})"
    # one detection per person: no duplicate person boxes survive NMS
    assert len(people) == len(truth)
