"""A manifest's ``localisation_head`` moves the box and heatmap, never the scores."""

from __future__ import annotations

import json

import numpy as np
import numpy.typing as npt
import pytest
from pydantic import ValidationError

from node.clock import ManualClock
from node.fire.analytic import FireAnalytic
from node.fire.model import FireManifest, FireModel
from node.frame import Frame
from schemas.attributes import FireAttributes
from schemas.config.fire import FireConfig
from tests.fire.manifests import scripted_manifest

CHANNELS = 4


class TwoBlobBackend:
    """Fixed scores; channel 0 is hot top-left, channel 1 hot bottom-right."""

    def run(self, batch: npt.NDArray[np.float32]) -> tuple[
        npt.NDArray[np.float32], npt.NDArray[np.float32]
    ]:
        feats = np.zeros((len(batch), CHANNELS, 12, 12), np.float32)
        feats[:, 0, 0:3, 0:3] = 1.0
        feats[:, 1, 9:12, 9:12] = 1.0
        return np.full((len(batch), 2), 0.9, np.float32), feats


def manifest(localisation: dict[str, object] | None) -> FireManifest:
    # the classifier looks at channel 0 (top-left), the localisation head at channel 1
    return scripted_manifest(
        {"weight": [[1.0, 0.0, 0.0, 0.0]] * 2, "bias": [0.0, 0.0]}, 192, localisation
    )


BOTTOM_RIGHT = {"weight": [[0.0, 1.0, 0.0, 0.0]] * 2, "bias": [0.0, 0.0]}


def fire_box(model: FireModel) -> tuple[list[float], FireAttributes]:
    analytic = FireAnalytic(FireConfig(k=1, n=1), lambda: model)
    clock = ManualClock()
    frame = Frame("cam1", 0, np.zeros((240, 240, 3), np.uint8), clock.time(), clock.monotonic())
    result = analytic.analyze(frame)
    obs = next(o for o in result.observations if o.label == "fire")
    assert isinstance(obs.attributes, FireAttributes)
    return result.outputs["cam_box"]["fire"], obs.attributes


def test_without_a_localisation_head_the_box_comes_from_the_classifier_cam() -> None:
    box, attributes = fire_box(FireModel(manifest(None), TwoBlobBackend()))
    assert box[2] <= 120 and box[3] <= 120  # top-left quarter
    assert attributes.localisation == "cam"


def test_the_localisation_head_moves_the_box_and_not_the_scores() -> None:
    with_head = FireModel(manifest(BOTTOM_RIGHT), TwoBlobBackend())
    box, attributes = fire_box(with_head)
    assert box[0] >= 120 and box[1] >= 120  # bottom-right quarter
    assert attributes.localisation == "localisation_head"
    frame = np.zeros((240, 240, 3), np.uint8)
    plain = FireModel(manifest(None), TwoBlobBackend())
    assert np.array_equal(with_head.predict(frame).scores, plain.predict(frame).scores)


def test_classifier_cam_flag_ignores_the_localisation_head() -> None:
    model = FireModel(manifest(BOTTOM_RIGHT), TwoBlobBackend(), classifier_cam=True)
    box, attributes = fire_box(model)
    assert box[2] <= 120 and box[3] <= 120
    assert attributes.localisation == "cam"


def test_a_localisation_head_of_another_shape_is_refused() -> None:
    with pytest.raises(ValidationError, match="localisation_head must match"):
        manifest({"weight": [[1.0, 0.0]] * 2, "bias": [0.0, 0.0]})
    with pytest.raises(ValidationError, match="localisation_head must match"):
        manifest({"weight": [[1.0, 0.0, 0.0, 0.0]], "bias": [0.0]})


def test_localise_fit_moves_the_map_onto_the_boxes_and_folds_keep_clips_whole() -> None:
    pytest.importorskip("torch")
    from models.fire.localise import Item, fit, folds_of, hit_rates, manifest_text

    feats = np.zeros((CHANNELS, 12, 12), np.float32)
    feats[0, 0:3, 0:3] = 1.0
    feats[1, 9:12, 9:12] = 1.0
    cover = np.zeros((2, 12, 12), np.float32)
    cover[:, 9:12, 9:12] = 1.0  # the labelled fire is bottom-right
    box = ((0.75, 0.75, 1.0, 1.0),)
    items = [Item(feats, cover, 192, 192, f"clip{i // 2}", False, box) for i in range(6)]
    init = manifest(None).head_arrays()  # the classifier looks top-left
    before = hit_rates(items, init[0], init[1], 0)[("union", 0.7)]
    w, b = fit(items, init, lam=0.001)
    after = hit_rates(items, w, b, 0)[("union", 0.7)]
    assert not any(before) and all(after)
    assert np.array_equal(fit(items, init, lam=0.001)[0], w)  # deterministic
    folds = folds_of(items, 3, seed=0)
    assert all(folds[i] == folds[i + 1] for i in (0, 2, 4))  # a clip's images share a fold
    assert sorted(set(folds)) == [0, 1, 2]  # three clips over three folds: one each
    text = manifest_text(manifest(None).model_dump_json(), w, b)
    shipped = FireManifest.model_validate_json(text)
    assert shipped.localisation_head is not None and shipped.head == manifest(None).head
    keys = list(json.loads(text))
    assert keys[keys.index("head") + 1] == "localisation_head"  # the diff is one key


def test_cross_validation_never_fits_on_the_fold_it_scores(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("torch")
    from models.fire import localise

    feats = np.random.default_rng(0).random((CHANNELS, 12, 12), dtype=np.float32)
    cover = np.zeros((2, 12, 12), np.float32)
    cover[:, 0, 0] = 1.0
    box = ((0.0, 0.0, 0.1, 0.1),)
    items = [localise.Item(feats, cover, 192, 192, f"clip{i}", False, box) for i in range(4)]
    init = manifest(None).head_arrays()
    real_fit, real_hits = localise.fit, localise.hit_rates
    fitted: list[set[str]] = []
    scored: list[tuple[set[str], set[str]]] = []  # (groups fitted, groups scored) per fitted head

    def spy_fit(fit_items, start, lam):  # type: ignore[no-untyped-def]
        fitted.append({i.group for i in fit_items})
        return real_fit(fit_items, start, lam)

    def spy_hits(held, w, b, k):  # type: ignore[no-untyped-def]
        if w is not init[0]:  # a fitted head, not the classifier baseline
            scored.append((fitted[-1], {i.group for i in held}))
        return real_hits(held, w, b, k)

    monkeypatch.setattr(localise, "fit", spy_fit)
    monkeypatch.setattr(localise, "hit_rates", spy_hits)
    monkeypatch.setattr(localise, "LAMBDAS", (0.01,))
    report = localise.cross_validate(items, init, 0, 2, seed=0)
    assert len(fitted) == len(scored) == 2
    assert all(fit_groups and held and not fit_groups & held for fit_groups, held in scored)
    assert set().union(*(held for _, held in scored)) == {f"clip{i}" for i in range(4)}
    assert report["fire_images"] == 4 and report["folds"] == 2


@pytest.mark.parametrize("region", ["peak", "largest", "union"])
def test_a_flat_map_boxes_the_whole_frame_instead_of_failing(region: str) -> None:
    from node.fire.cam import cam_box

    flat = np.full((12, 12), 3.0, np.float32)
    box = cam_box(flat, 320, 240, 0.7, region)  # type: ignore[arg-type]
    assert box.tolist() == [0.0, 0.0, 320.0, 240.0]
