"""`citywatch-train eval fire`: the CAM rule defaults to the node's and can be set, region
included, so fire@2's figures (peak region, 0.6) stay reproducible next to fire@3's;
``--classifier-cam`` boxes from the classifier's CAM although the shipped manifest has a
localisation head."""

from __future__ import annotations

import json

import pytest

from models.cli.main import main
from models.fire.evaluate import evaluate
from node.fire.model import DEFAULT_MANIFEST
from schemas.config.fire import FireConfig
from tests.conftest import SharedData


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("rule", "classifier_cam"), [(None, False), (("peak", 0.8), False), (("union", 0.7), True)]
)
def test_eval_fire_cam_rule(
    shared_data: SharedData,
    capsys: pytest.CaptureFixture[str],
    rule: tuple[str, float] | None,
    classifier_cam: bool,
) -> None:
    data = shared_data.path("datasets/fire_smoke")
    args = ["eval", "fire", "--data", str(data), "--json"]
    region, threshold = rule or (FireConfig().cam_region, FireConfig().cam_threshold)
    if rule:
        args += ["--cam-region", region, "--cam-threshold", str(threshold)]
    if classifier_cam:
        args.append("--classifier-cam")
    assert main(args) == 0
    got = json.loads(capsys.readouterr().out)["labelled"]["cam_fire_iou"]
    want = evaluate(
        DEFAULT_MANIFEST, "fp32", data=data, cam_threshold=threshold,
        cam_region=region, classifier_cam=classifier_cam,  # type: ignore[arg-type]
    )["labelled"]["cam_fire_iou"]  # fmt: skip
    assert got == want


@pytest.mark.shared_data
def test_eval_fire_classifier_cam_flag_changes_the_boxes_not_the_scores(
    shared_data: SharedData,
) -> None:
    data = shared_data.path("datasets/fire_smoke")
    head = evaluate(DEFAULT_MANIFEST, "fp32", data=data)["labelled"]
    cam = evaluate(DEFAULT_MANIFEST, "fp32", data=data, classifier_cam=True)["labelled"]
    assert head["per_class"] == cam["per_class"]
    assert head["cam_fire_iou"] != cam["cam_fire_iou"]  # the shipped manifest has its own head
    # smoke boxes are scored too, on every image with smoke boxes (30 in valid/)
    assert head["cam_smoke_iou"]["images"] == cam["cam_smoke_iou"]["images"] == 30
    assert head["cam_smoke_iou"] != cam["cam_smoke_iou"]
