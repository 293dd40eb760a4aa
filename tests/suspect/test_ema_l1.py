"""``train.py --ema`` / ``--l1`` (round 6): the EMA update is YOLOX's formula, the L1 targets
invert the box decoding, and the defaults build exactly the loss without them.

Needs torch only because ``models.suspect.train`` imports it (skipped without)."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from models.suspect.train import (  # noqa: E402 (after the importorskip)
    ModelEMA,
    decode_raw,
    grid_of,
    l1_targets,
    loss_fn,
)


def _toy() -> torch.nn.Module:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    net.register_buffer("count", torch.tensor([1.0, 2.0]))
    net[0].weight.requires_grad_(False)  # a frozen parameter: copied, never averaged
    return net


def test_ema_update_is_the_yolox_formula() -> None:
    net = _toy()
    decay, ramp = 0.99, 5.0
    ema = ModelEMA(net, decay, ramp)
    expected = {k: v.clone() for k, v in net.state_dict().items()}
    for step in range(1, 8):
        with torch.no_grad():
            for p in net.parameters():
                p.add_(torch.randn_like(p))
            net.get_buffer("count").add_(1)
        ema.update(net)
        d = decay * (1 - math.exp(-step / ramp))
        assert ema.d() == pytest.approx(d)
        for k, w in net.state_dict().items():
            if k in ("0.weight", "count"):  # frozen parameter, buffer: copied exactly
                expected[k] = w.clone()
            else:
                expected[k] = d * expected[k] + (1 - d) * w
        got = ema.model.state_dict()
        for k, v in expected.items():
            torch.testing.assert_close(got[k], v, rtol=1e-6, atol=1e-6)
        assert torch.equal(got["0.weight"], net.state_dict()["0.weight"])
        assert torch.equal(got["count"], net.state_dict()["count"])
    assert ema.model.state_dict()["1.bias"].data_ptr() != net.state_dict()["1.bias"].data_ptr()


def test_l1_targets_round_trip() -> None:
    grid, stride = grid_of(64, (8, 16, 32))
    g = torch.Generator().manual_seed(0)
    idx = torch.randint(0, len(grid), (50,), generator=g)
    centres = (grid[idx] + torch.rand(50, 2, generator=g)) * stride[idx, None]
    wh = torch.rand(50, 2, generator=g) * 60 + 2
    boxes = torch.cat((centres - wh / 2, centres + wh / 2), 1)
    t = l1_targets(boxes, grid[idx], stride[idx])
    # decode anchor by anchor (each row with its own grid cell and stride)
    back = torch.stack([decode_raw(t[i : i + 1], grid[idx[i]], stride[idx[i] : idx[i] + 1])[0]
                        for i in range(len(idx))])  # fmt: skip
    torch.testing.assert_close(back, boxes, rtol=1e-5, atol=1e-3)
    # the YOLOX encoding, spelled out for one box
    cx, cy = (boxes[0, 0] + boxes[0, 2]) / 2, (boxes[0, 1] + boxes[0, 3]) / 2
    s = stride[idx[0]]
    ref = torch.stack((cx / s - grid[idx[0], 0], cy / s - grid[idx[0], 1],
                       torch.log((boxes[0, 2] - boxes[0, 0]) / s + 1e-8),
                       torch.log((boxes[0, 3] - boxes[0, 1]) / s + 1e-8)))  # fmt: skip
    torch.testing.assert_close(t[0], ref)


def _batch() -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor, torch.Tensor]:
    torch.manual_seed(1)
    size, nc = 64, 4
    grid, stride = grid_of(size, (8, 16, 32))
    out = torch.randn(2, len(grid), 5 + nc) * 0.5
    targets = [torch.tensor([[0, 10.0, 12.0, 40.0, 44.0], [3, 30.0, 5.0, 60.0, 30.0]]),
               torch.zeros(0, 5)]  # fmt: skip
    return out, targets, grid, stride


# The loss and gradient of this batch under train.py before round 6 (commit df9bbcc), measured
# once: the defaults must give exactly the old loss, not merely agree with themselves.
PRE_ROUND6_LOSS = 72.80279541015625
PRE_ROUND6_PARTS = {"iou": 0.96, "obj": 64.286, "cls": 3.717}
PRE_ROUND6_GRAD_ABS_SUM = 47.119598388671875


def test_defaults_leave_the_loss_unchanged() -> None:
    out, targets, grid, stride = _batch()
    a = out.clone().requires_grad_(True)
    b = out.clone().requires_grad_(True)
    base, parts = loss_fn(a, targets, grid, stride)
    zero, parts0 = loss_fn(b, targets, grid, stride, 0.0)
    assert parts == parts0 == PRE_ROUND6_PARTS
    assert float(base.detach()) == pytest.approx(PRE_ROUND6_LOSS, rel=1e-6)
    assert torch.equal(base, zero)
    base.backward()
    zero.backward()
    assert a.grad is not None and b.grad is not None and torch.equal(a.grad, b.grad)
    assert float(a.grad.abs().sum()) == pytest.approx(PRE_ROUND6_GRAD_ABS_SUM, rel=1e-5)
    # and the terms add up as YOLOX's (5 IoU + obj + cls) / positives
    expected = 5 * parts["iou"] + parts["obj"] + parts["cls"]
    assert float(base.detach()) == pytest.approx(expected, abs=0.01)


def test_l1_term_is_added_and_zero_at_the_targets() -> None:
    out, targets, grid, stride = _batch()
    base, _ = loss_fn(out, targets, grid, stride)
    with_l1, parts = loss_fn(out, targets, grid, stride, 2.0)
    assert parts["l1"] > 0
    assert float(with_l1 - base) == pytest.approx(2.0 * parts["l1"], abs=2e-3)
    # raw box outputs set to the targets everywhere: the L1 term is 0 whichever anchors
    # SimOTA picks (one gt per image here, so every anchor's target is that box's encoding)
    one = [targets[0][:1]]
    gt_box = one[0][:, 1:].expand(len(grid), 4)
    raw = out[:1].clone()
    raw[0, :, :4] = l1_targets(gt_box, grid, stride)
    _, parts_t = loss_fn(raw, one, grid, stride, 1.0)
    assert parts_t["l1"] == 0.0
    assert parts_t["iou"] == pytest.approx(0.0, abs=1e-3)  # decoded boxes are the gt box
