"""YOLOX decode: grids, hand-computed rows, edge cases, parity with an independent reference."""

from __future__ import annotations

import math

import numpy as np
import pytest

from node.detect.labels import COCO80
from node.detect.yolox import decode, make_grid, postprocess
from tests.detect.fakes import encode_boxes


def test_grid_layout_for_416() -> None:
    grid, stride = make_grid((416, 416))
    assert grid.shape == (52 * 52 + 26 * 26 + 13 * 13, 2) == (3549, 2)
    assert grid[0].tolist() == [0, 0] and grid[1].tolist() == [1, 0]  # x runs fastest
    assert grid[52].tolist() == [0, 1]
    assert stride[0, 0] == 8 and stride[2704, 0] == 16 and stride[-1, 0] == 32
    assert grid[-1].tolist() == [12, 12]


def test_decode_one_hand_computed_row() -> None:
    raw = np.zeros((1, 3549, 85), dtype=np.float32)
    row = 2704 + 26 * 3 + 5  # stride 16, grid x=5, y=3
    raw[0, row, :5] = [0.5, 0.25, math.log(2.0), 0.0, 0.8]
    raw[0, row, 5 + 43] = 0.5  # knife
    boxes, scores = decode(raw, (416, 416))
    # centre ((0.5+5)*16, (0.25+3)*16) = (88, 52); size (2*16, 1*16) = (32, 16)
    np.testing.assert_allclose(boxes[row], [72, 44, 104, 60], atol=1e-4)
    assert scores[row, 43] == pytest.approx(0.4)
    assert scores.shape == (3549, 80)


def test_decode_applies_sigmoid_only_when_asked() -> None:
    raw = np.zeros((3549, 85), dtype=np.float32)  # 2-d input is accepted too
    _, plain = decode(raw, (416, 416))
    _, sig = decode(raw, (416, 416), apply_sigmoid=True)
    assert plain.max() == 0.0
    assert sig[0, 0] == pytest.approx(0.25)  # sigmoid(0) * sigmoid(0)


@pytest.mark.parametrize(
    ("shape", "match"),
    [((1, 100, 85), "needs 3549"), ((3549,), r"\(N, 5\+C\)"), ((1, 3549, 5), r"\(N, 5\+C\)")],
)
def test_decode_rejects_wrong_shapes(shape: tuple[int, ...], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        decode(np.zeros(shape, dtype=np.float32), (416, 416))


def test_postprocess_maps_back_to_frame_and_clips() -> None:
    # frame 832x624 -> ratio 0.5; boxes given in input pixels
    raw = encode_boxes([(100, 100, 200, 300, 0, 0.9), (380, 10, 440, 50, 43, 0.6)])
    dets = postprocess(
        raw, input_hw=(416, 416), ratio=0.5, frame_hw=(624, 832), labels=COCO80,
        score_threshold=0.3, iou_threshold=0.45,
    )  # fmt: skip
    assert dets.labels.tolist() == ["person", "knife"]
    np.testing.assert_allclose(dets.xyxy[0], [200, 200, 400, 600], atol=1e-3)
    # the knife box runs past the input's right edge (440 > 416): clipped to the frame width
    np.testing.assert_allclose(dets.xyxy[1], [760, 20, 832, 100], atol=1e-3)


def test_postprocess_threshold_and_label_count() -> None:
    raw = encode_boxes([(100, 100, 200, 300, 0, 0.29)])
    kw = {"input_hw": (416, 416), "ratio": 1.0, "frame_hw": (416, 416), "iou_threshold": 0.45}
    assert len(postprocess(raw, labels=COCO80, score_threshold=0.3, **kw)) == 0  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="80 classes but 2 labels"):
        postprocess(raw, labels=["a", "b"], score_threshold=0.3, **kw)  # type: ignore[arg-type]


def reference_decode(out: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Written independently of the node: explicit loops over strides and cells, cx/cy/w/h first."""
    boxes, scores, row = [], [], 0
    for stride in (8, 16, 32):
        n = size // stride
        for gy in range(n):
            for gx in range(n):
                r = out[row]
                cx = (r[0] + gx) * stride
                cy = (r[1] + gy) * stride
                w = math.exp(r[2]) * stride
                h = math.exp(r[3]) * stride
                boxes.append((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2))
                scores.append(r[4] * r[5:])
                row += 1
    return np.array(boxes), np.array(scores)


@pytest.mark.shared_data
def test_decode_parity_with_reference_on_real_output(shared_data) -> None:  # type: ignore[no-untyped-def]
    import cv2
    import onnxruntime as ort

    from node.detect.preprocess import preprocess

    so = ort.SessionOptions()
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sess = ort.InferenceSession(
        str(shared_data.path("models/yolox_nano.onnx")), so, providers=["CPUExecutionProvider"]
    )
    image = cv2.imread(str(shared_data.path("datasets/images/bus.jpg")))
    raw = sess.run(None, {"images": preprocess(image, (416, 416)).tensor})[0]
    # this export applies the sigmoid in-graph: scores are probabilities already
    assert raw[0, :, 4:].min() >= 0.0 and raw[0, :, 4:].max() <= 1.0
    boxes, scores = decode(raw, (416, 416))
    ref_boxes, ref_scores = reference_decode(raw[0].astype(np.float64), 416)
    np.testing.assert_allclose(boxes, ref_boxes, atol=1e-3, rtol=0)
    np.testing.assert_allclose(scores, ref_scores, atol=1e-5)
