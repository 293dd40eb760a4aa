"""Each method, on a tiny model that only looks at the top-left quadrant, points there.

The images are bright noise everywhere, the detector's box sits in the *bottom-right* quadrant
while its objectness comes from the top-left one: a method that merely highlighted bright pixels
or the box itself would fail.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from node.explain.errors import DeadlineError, TargetError, UnsupportedError
from node.explain.explainer import Explainer, ExplainModels, ExplainRequest
from node.explain.maps import Explanation
from node.explain.occlusion import explain_occlusion, region_drops
from node.explain.rise import explain_rise
from node.explain.subject import Budget, Subject
from node.face.embed import EmbedderContract, l2_normalise, preprocess
from node.inference.session import ModelSession
from schemas.manifest import InputSpec, ModelManifest, TensorSpec
from tests.explain.tiny_models import (
    SIDE,
    detector_session,
    fire_model,
    gradient_session,
    quadrant_embedder,
    textured_image,
)

WIDTH, HEIGHT = 64, 48  # the fire model squashes: its top-left quadrant is the image's


def _in_top_left(e: Explanation, width: int, height: int) -> None:
    x, y = e.peak
    assert x < width // 2 and y < height // 2, f"{e.method}: peak {e.peak} not top-left"
    _, _, x2, y2 = e.box
    # the mass box lies in the quadrant (one working pixel of slack for the resize)
    assert x2 <= width // 2 + width // SIDE and y2 <= height // 2 + height // SIDE, (
        f"{e.method}: box {e.box} leaves the top-left quadrant"
    )
    assert e.heat.shape == (height, width)


@pytest.fixture
def explainer(tmp_path: Path) -> Explainer:
    model = fire_model(tmp_path)
    grads = gradient_session(tmp_path)
    detector = detector_session(tmp_path)
    return Explainer(
        ExplainModels(
            fire=lambda: model,
            fire_gradcam=lambda: grads,
            detectors={"objects": lambda: detector},
        )
    )


@pytest.mark.parametrize(
    ("method", "budget"),
    [("cam", None), ("gradcam", None), ("rise", 400), ("occlusion", 200), ("lime", 300)],
)
def test_fire_methods_point_at_the_quadrant_the_classifier_reads(
    explainer: Explainer, method: str, budget: int | None
) -> None:
    image = textured_image(WIDTH, HEIGHT)
    e = explainer.explain(image, ExplainRequest("fire", method, "fire", budget=budget))  # type: ignore[arg-type]
    _in_top_left(e, WIDTH, HEIGHT)
    assert e.target == "fire"
    assert e.score is not None and e.score > 0.5


def test_drise_points_at_the_evidence_not_at_the_box(explainer: Explainer) -> None:
    image = textured_image(64, 64)
    req = ExplainRequest("objects", "drise", "thing", box=(32, 32, 64, 64), budget=300)
    e = explainer.explain(image, req)
    _in_top_left(e, 64, 64)
    assert e.target == "thing@[32, 32, 64, 64]"


def test_drise_without_a_box_explains_the_top_detection(explainer: Explainer) -> None:
    e = explainer.explain(textured_image(64, 64), ExplainRequest("objects", "drise", budget=200))
    assert e.target == "thing@[32, 32, 64, 64]"  # the box the tiny detector draws
    _in_top_left(e, 64, 64)


def _embedder_subject(tmp_path: Path) -> Subject:
    """A face-like subject: cosine similarity of a top-left-only embedder to the unperturbed
    image's embedding."""
    side = 32
    path = quadrant_embedder(tmp_path / "embedder.onnx", side)
    manifest = ModelManifest(
        name="tiny_embedder", version="1", task="face_embedding", family="generic",
        inputs=[InputSpec(name="input0", shape=[1, 3, side, side])],
        outputs=[TensorSpec(name="output0", shape=[1, 3])],
    )  # fmt: skip
    session = ModelSession(path, manifest)
    contract = EmbedderContract(
        name="tiny", input_name="input0", output_name="output0", size=side, scale=1 / 255, dim=3
    )
    crop = textured_image(side, side, seed=3)
    crop[: side // 2, : side // 2, 0] = 40  # a distinctive colour where the embedder looks

    def embed(batch: np.ndarray) -> np.ndarray:
        x = preprocess(list(batch), contract)
        return l2_normalise(np.concatenate([session.run({"input0": x[i : i + 1]})[0]
                                            for i in range(len(x))]))  # fmt: skip

    ref = embed(crop[None])[0]
    return Subject(
        model="faces", target="tiny", working=crop, fill=(128.0, 128.0, 128.0),
        score=lambda b: (embed(b) @ ref).astype(np.float32),
        to_image=lambda m: m, batch=8, mask_cells=7,
    )  # fmt: skip


def test_face_occlusion_and_region_drops_find_the_part_the_embedder_reads(
    tmp_path: Path,
) -> None:
    subject = _embedder_subject(tmp_path)
    heat, used = explain_occlusion(subject, Budget(200))
    y, x = np.unravel_index(int(np.argmax(heat)), heat.shape)
    assert x < 16 and y < 16
    assert used <= 200
    drops = region_drops(
        subject,
        {"top_left": _square(32, 0, 0, 12), "bottom_right": _square(32, 20, 20, 12)},
        Budget(3),
    )
    assert drops["top_left"] > 0.01
    assert drops["bottom_right"] == pytest.approx(0.0, abs=1e-6)


def test_face_rise_finds_the_part_the_embedder_reads(tmp_path: Path) -> None:
    heat, used = explain_rise(_embedder_subject(tmp_path), Budget(300))
    y, x = np.unravel_index(int(np.argmax(heat)), heat.shape)
    assert x < 16 and y < 16
    assert used == 300


def _square(side: int, y: int, x: int, size: int) -> np.ndarray:
    m = np.zeros((side, side), bool)
    m[y : y + size, x : x + size] = True
    return m


def test_same_seed_same_map_and_budget_counts_passes(explainer: Explainer) -> None:
    image = textured_image(WIDTH, HEIGHT)
    a = explainer.explain(image, ExplainRequest("fire", "rise", budget=64, seed=5))
    b = explainer.explain(image, ExplainRequest("fire", "rise", budget=64, seed=5))
    c = explainer.explain(image, ExplainRequest("fire", "rise", budget=64, seed=6))
    assert np.array_equal(a.working, b.working)
    assert not np.array_equal(a.working, c.working)
    assert a.masks == 64


def test_unsupported_pairs_and_unknown_targets_say_what_would_work(explainer: Explainer) -> None:
    image = textured_image(WIDTH, HEIGHT)
    with pytest.raises(UnsupportedError, match="fire supports cam, gradcam, rise"):
        explainer.explain(image, ExplainRequest("fire", "drise"))
    with pytest.raises(UnsupportedError, match="use drise"):
        explainer.explain(image, ExplainRequest("objects", "rise"))
    with pytest.raises(UnsupportedError, match="suspect model is not available"):
        explainer.explain(image, ExplainRequest("suspect", "drise"))
    with pytest.raises(TargetError, match=r"unknown class 'smoky'.*\['fire', 'smoke'\]"):
        explainer.explain(image, ExplainRequest("fire", "rise", "smoky"))
    with pytest.raises(TargetError, match="no 'other' detected"):
        explainer.explain(textured_image(64, 64), ExplainRequest("objects", "drise", "other"))


def test_a_passed_deadline_stops_between_batches(explainer: Explainer, tmp_path: Path) -> None:
    now = [0.0]

    def clock() -> float:
        now[0] += 1.0  # every look at the clock costs a second
        return now[0]

    slow = Explainer(ExplainModels(fire=lambda: fire_model(tmp_path)), clock=clock)
    with pytest.raises(DeadlineError, match=r"deadline of 3\.0 s passed after \d+ of 500"):
        slow.explain(textured_image(WIDTH, HEIGHT),
                     ExplainRequest("fire", "rise", budget=500, deadline_s=3.0))  # fmt: skip
