"""Torch side (needs the ``train`` extra; skipped without torch): the YOLOX-nano re-implementation
with weights imported from the pinned ONNX matches ONNX Runtime on real images; the new class
list keeps COCO's person predictor; the SimOTA loss trains; the ONNX export matches torch."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import SharedData

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

pytestmark = pytest.mark.torch

from models.suspect.yolox_torch import (  # noqa: E402 (after the importorskip)
    ExportWrapper,
    MergedDetector,
    YoloxNano,
    load_onnx_weights,
    parity,
    with_classes,
)


@pytest.fixture(scope="module")
def coco(shared_data: SharedData) -> YoloxNano:
    torch.set_num_threads(1)
    return load_onnx_weights(shared_data.path("models/yolox_nano.onnx"))


@pytest.mark.shared_data
@pytest.mark.parametrize("image", ["bus.jpg", "zidane.jpg"])
def test_torch_import_matches_onnx_runtime(shared_data: SharedData, image: str) -> None:
    img = cv2.imread(str(shared_data.path(f"datasets/images/{image}")))
    # raw xy/wh offsets and probabilities over 3549 anchors: float32 summation-order noise only
    assert parity(shared_data.path("models/yolox_nano.onnx"), img) < 2e-3


@pytest.mark.shared_data
def test_new_classes_keep_coco_person_and_knife(coco: YoloxNano) -> None:
    net = with_classes(coco, ["person", "pistol", "knife"]).eval()
    x = torch.rand(1, 3, 64, 64) * 255
    with torch.no_grad():
        a, b = coco(x), net(x)
    torch.testing.assert_close(b[..., :5], a[..., :5])  # boxes and objectness untouched
    torch.testing.assert_close(b[..., 5], a[..., 5 + 0])  # person
    torch.testing.assert_close(b[..., 7], a[..., 5 + 43])  # knife
    assert torch.all(b[..., 6] < -3)  # pistol starts at the 0.01 prior


@pytest.mark.shared_data
def test_simota_loss_decreases_on_one_image(coco: YoloxNano) -> None:
    from models.suspect.train import grid_of, loss_fn

    torch.manual_seed(0)
    net = with_classes(coco, ["person", "pistol"])
    x = torch.full((1, 3, 96, 96), 114.0)
    x[:, :, 30:60, 20:70] = torch.tensor([40.0, 40.0, 200.0])[:, None, None]
    targets = [torch.tensor([[1.0, 20.0, 30.0, 70.0, 60.0]])]
    grid, stride = grid_of(96, YoloxNano.strides)
    opt = torch.optim.AdamW(net.head.parameters(), lr=1e-3)
    losses = []
    for _ in range(15):
        loss, _parts = loss_fn(net(x), targets, grid, stride)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < 0.7 * losses[0]


@pytest.mark.shared_data
def test_export_matches_torch(coco: YoloxNano, tmp_path: Path) -> None:
    import onnxruntime as ort

    from models.suspect.export import export_onnx

    net = MergedDetector(coco, with_classes(coco, ["pistol", "long_gun", "knife", "drone"]))
    export_onnx(net.eval(), tmp_path / "m.onnx", 96)
    x = (np.random.default_rng(0).random((1, 3, 96, 96)) * 255).astype(np.float32)
    out = ort.InferenceSession(str(tmp_path / "m.onnx")).run(None, {"images": x})[0]
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    assert out.shape == (1, 2 * (12 * 12 + 6 * 6 + 3 * 3), 10)
    assert np.abs(out - ref).max() < 1e-3


def _trained_like(coco: YoloxNano, mode: str = "neck") -> YoloxNano:
    """A suspect net whose trainable part (for ``train.py --unfreeze mode``) differs from
    COCO's (as after training)."""
    from models.suspect.train import FROZEN_BY_MODE

    torch.manual_seed(0)
    net = with_classes(coco, ["pistol", "long_gun", "knife", "drone"])
    with torch.no_grad():
        for name, p in net.named_parameters():
            if not name.startswith(FROZEN_BY_MODE[mode]):
                p.add_(torch.randn_like(p) * 0.05)
    return net.eval()


# train.py --unfreeze mode -> the part MergedDetector shares (what that training froze)
MODES = [("neck", "top"), ("dark5", "dark4"), ("dark4", "dark3")]


@pytest.mark.shared_data
@pytest.mark.parametrize(("mode", "shared"), MODES)
def test_merged_person_rows_are_yolox_nano(coco: YoloxNano, mode: str, shared: str) -> None:
    suspect = _trained_like(coco, mode)
    merged = MergedDetector(coco, suspect, shared).eval()
    x = torch.rand(1, 3, 64, 64) * 255
    with torch.no_grad():
        out = merged(x)[0]
        ref = ExportWrapper(coco)(x)[0]
        alone = ExportWrapper(suspect)(x)[0]
    a = len(ref)
    assert out.shape == (2 * a, 10)
    # person rows: YOLOX-nano's boxes and objectness; person where it is the best COCO class
    torch.testing.assert_close(out[:a, :5], ref[:, :5])
    best_is_person = ref[:, 5:].argmax(1) == 0
    assert 0 < int(best_is_person.sum()) < a  # both cases occur on this input
    torch.testing.assert_close(out[:a, 5], torch.where(best_is_person, ref[:, 5], 0.0))
    assert torch.all(out[:a, 6:] == 0)
    # suspect rows: the trained net alone, no person
    torch.testing.assert_close(out[a:, :5], alone[:, :5])
    torch.testing.assert_close(out[a:, 6:], alone[:, 5:])
    assert torch.all(out[a:, 5] == 0)


@pytest.mark.shared_data
@pytest.mark.parametrize(("mode", "shared"), MODES)
def test_merged_uses_coco_for_the_frozen_part(coco: YoloxNano, mode: str, shared: str) -> None:
    """The suspect net's copies of the frozen layers are never used: changing them changes
    nothing, so what training froze is exactly what the person path runs; its trained copies
    of the later stages are used."""
    frozen = {"top": ("stem", "dark5", "C3_p4"), "dark4": ("stem", "dark2", "dark4"),
              "dark3": ("stem", "dark2", "dark3")}[shared]  # fmt: skip
    trained = {"top": "C3_n4", "dark4": "dark5", "dark3": "dark4"}[shared]
    suspect = _trained_like(coco, mode)
    x = torch.rand(1, 3, 64, 64) * 255
    with torch.no_grad():
        before = MergedDetector(coco, suspect, shared)(x)
        for name in frozen:
            for p in getattr(suspect.backbone, name).parameters():
                p.add_(1.0)
        after = MergedDetector(coco, suspect, shared)(x)
        torch.testing.assert_close(after, before)
        for p in getattr(suspect.backbone, trained).parameters():
            p.add_(0.1)
        changed = MergedDetector(coco, suspect, shared)(x)
    a = before.shape[1] // 2
    torch.testing.assert_close(changed[:, :a], before[:, :a])  # person rows untouched
    assert not torch.allclose(changed[:, a:], before[:, a:])


@pytest.mark.shared_data
def test_fp16_weights_halve_the_file_and_keep_outputs(coco: YoloxNano, tmp_path: Path) -> None:
    import onnxruntime as ort

    from models.suspect.export import export_onnx, store_fp16

    net = MergedDetector(coco, _trained_like(coco, "dark4"), "dark3").eval()
    full, half = tmp_path / "full.onnx", tmp_path / "half.onnx"
    export_onnx(net, full, 96)
    half.write_bytes(full.read_bytes())
    assert store_fp16(half) > 100
    assert half.stat().st_size < 0.55 * full.stat().st_size
    x = (np.random.default_rng(0).random((1, 3, 96, 96)) * 255).astype(np.float32)
    a = ort.InferenceSession(str(full)).run(None, {"images": x})[0]
    b = ort.InferenceSession(str(half)).run(None, {"images": x})[0]
    assert a.shape == b.shape
    # probabilities move by float16 rounding of the weights only
    assert np.abs(a[..., 4:] - b[..., 4:]).max() < 0.02
    assert np.abs(a - b).max() > 0
