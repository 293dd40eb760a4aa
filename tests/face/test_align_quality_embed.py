"""Alignment (Umeyama), quality checks and embedder pre/post-processing: pure functions."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from node.face.align import ARCFACE_112, align, template, umeyama
from node.face.embed import MOBILEFACENET, EmbedderContract, l2_normalise, preprocess
from node.face.engine import FaceEngine
from node.face.quality import QualityIssue, QualityLimits, assess, pose_from_landmarks, sharpness


@pytest.mark.parametrize(
    ("angle", "scale", "shift"), [(0.0, 1.0, (0, 0)), (30.0, 2.5, (100, -40)), (-75.0, 0.4, (3, 7))]
)
def test_umeyama_recovers_similarity(angle: float, scale: float, shift: tuple[int, int]) -> None:
    a = np.radians(angle)
    m = scale * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    src = ARCFACE_112.astype(np.float64)
    dst = src @ m.T + np.array(shift)
    est = umeyama(src, dst)
    np.testing.assert_allclose(est[:, :2], m, atol=1e-9)
    np.testing.assert_allclose(est[:, 2], shift, atol=1e-7)


def test_umeyama_never_reflects() -> None:
    mirrored = ARCFACE_112 * np.array([-1.0, 1.0])
    est = umeyama(ARCFACE_112, mirrored)
    assert np.linalg.det(est[:, :2]) > 0


@pytest.mark.parametrize("bad", [np.zeros((5, 2)), np.zeros((5, 3)), np.zeros((1, 2))])
def test_umeyama_rejects_degenerate(bad: npt.NDArray[np.float64]) -> None:
    with pytest.raises(ValueError):
        umeyama(bad, np.ones_like(bad) if bad.shape[1:] == (2,) and len(bad) > 1 else bad)


def test_template_scales_with_size() -> None:
    np.testing.assert_allclose(template(224), ARCFACE_112 * 2, rtol=1e-6)


@pytest.mark.shared_data
def test_aligned_astronaut_eyes_on_template(
    engine: FaceEngine, astronaut: npt.NDArray[np.uint8]
) -> None:
    det = engine.detect(astronaut)
    crop = align(astronaut, det.landmarks[0])
    assert crop.shape == (112, 112, 3)
    # the warp sends the detected landmarks onto the template (within a few pixels)
    m = umeyama(det.landmarks[0], ARCFACE_112)
    mapped = det.landmarks[0] @ m[:, :2].T + m[:, 2]
    assert np.abs(mapped - ARCFACE_112).max() < 4.0


FRONTAL = np.array([[38, 52], [74, 52], [56, 72], [42, 92], [70, 92]], np.float64)


def test_pose_frontal_is_centred() -> None:
    p = pose_from_landmarks(FRONTAL)
    assert abs(p.roll_deg) < 1 and abs(p.yaw) < 0.05 and 0.4 < p.pitch < 0.6


def test_pose_roll_and_yaw() -> None:
    a = np.radians(40)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    rolled = (FRONTAL - 56) @ rot.T + 56
    assert pose_from_landmarks(rolled).roll_deg == pytest.approx(40, abs=0.5)
    assert abs(pose_from_landmarks(rolled).yaw) < 0.05  # roll does not leak into yaw
    turned = FRONTAL.copy()
    turned[2, 0] += 20  # nose far to one side
    assert pose_from_landmarks(turned).yaw == pytest.approx(20 / 36, abs=1e-6)


def _textured(seed: int = 0) -> npt.NDArray[np.uint8]:
    rng = np.random.default_rng(seed)
    return np.asarray(rng.integers(0, 255, (112, 112, 3)), np.uint8)


@pytest.mark.parametrize(
    ("size", "blur", "landmarks", "expected"),
    [
        (100, 0, FRONTAL, ()),
        (20, 0, FRONTAL, (QualityIssue.TOO_SMALL,)),
        (100, 15, FRONTAL, (QualityIssue.BLURRY,)),
        (100, 0, FRONTAL + np.array([[0, 0], [0, 30], [0, 0], [0, 0], [0, 0]]),
         (QualityIssue.POSE,)),
    ],
)
def test_assess_table(
    size: float, blur: int, landmarks: npt.NDArray[np.float64], expected: tuple[QualityIssue, ...]
) -> None:
    crop = _textured()
    if blur:
        crop = cv2.GaussianBlur(crop, (blur, blur), 0)
    report = assess(np.array([0, 0, size, size], np.float32), landmarks, crop, QualityLimits())
    assert report.issues == expected


def test_sharpness_drops_with_blur() -> None:
    crop = _textured()
    assert sharpness(cv2.GaussianBlur(crop, (9, 9), 0)) < sharpness(crop) / 10


def test_preprocess_mobilefacenet_formula() -> None:
    crop = _textured(1)
    x = preprocess([crop], MOBILEFACENET)
    assert x.shape == (1, 3, 112, 112) and x.dtype == np.float32
    rgb = crop[..., ::-1].astype(np.float32)
    np.testing.assert_allclose(x[0].transpose(1, 2, 0), (rgb / 255 - 0.5) / 0.5, atol=1e-6)


def test_preprocess_rejects_wrong_size() -> None:
    with pytest.raises(ValueError, match="112x112x3"):
        preprocess([np.zeros((100, 100, 3), np.uint8)], MOBILEFACENET)


def test_l2_normalise() -> None:
    out = l2_normalise(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]])


def test_facenet_contract_from_manifest() -> None:
    """A FaceNet/InceptionResnetV1 export plugs in through its own manifest."""
    manifest = pytest.importorskip("schemas.manifest")
    m = manifest.ModelManifest.model_validate({
        "name": "facenet", "version": "vggface2-1", "task": "other", "family": "generic",
        "inputs": [{"name": "input", "shape": [1, 3, 160, 160], "layout": "NCHW", "color": "RGB",
                    "normalization": {"mean": [127.5, 127.5, 127.5],
                                      "std": [128.0, 128.0, 128.0]}}],
        "outputs": [{"name": "embedding", "shape": [1, 512]}],
    })
    c = EmbedderContract.from_manifest(m)
    assert (c.size, c.dim, c.input_name, c.output_name) == (160, 512, "input", "embedding")
    x = preprocess([np.full((160, 160, 3), 255, np.uint8)], c)
    assert x.shape == (1, 3, 160, 160)
    assert x.max() == pytest.approx((255 - 127.5) / 128)
