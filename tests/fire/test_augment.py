"""Training augmentation: the CCTV look, and boxes that follow the crop and the flip."""

from __future__ import annotations

import numpy as np

from models.fire.augment import augment, augment_with_boxes, cctv, crop_boxes


def test_cctv_augmentation_is_grey_flat_and_reproducible() -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)
    a = cctv(img, np.random.default_rng(1))
    b = cctv(img, np.random.default_rng(1))
    assert a.shape == img.shape and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    assert a.astype(np.float32).std() < img.astype(np.float32).std()  # lower contrast
    chroma = np.abs(a[..., 0].astype(int) - a[..., 2].astype(int)).mean()
    assert chroma < np.abs(img[..., 0].astype(int) - img[..., 2].astype(int)).mean()
    out = augment(img, [], np.random.default_rng(3), 64)
    assert out.shape == (64, 64, 3)


def test_crop_boxes_shift_scale_clip_and_flip() -> None:
    # 100x200 image (h x w), crop x0=50, y0=0, 100 wide, 50 high
    rect = (50, 0, 100, 50)
    boxes = [(0.25, 0.0, 0.5, 0.5), (0.9, 0.9, 1.0, 1.0)]  # second one lies outside the crop
    out = crop_boxes(boxes, rect, 100, 200, flip=False)
    assert out == ((0.0, 0.0, 0.5, 1.0),)
    flipped = crop_boxes(boxes, rect, 100, 200, flip=True)
    assert flipped == ((0.5, 0.0, 1.0, 1.0),)


def test_augment_with_boxes_draws_like_augment_and_keeps_a_marked_box() -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 60, (256, 256, 3), dtype=np.uint8)
    box = (0.30, 0.40, 0.50, 0.70)
    img[102:179, 77:128] = 255  # a white patch exactly under the box (pixels 76.8-128, 102.4-179.2)
    for seed in range(6):
        plain = augment(img, [box], np.random.default_rng(seed), 96)
        out, fire, smoke = augment_with_boxes(img, [box], [], np.random.default_rng(seed), 96)
        np.testing.assert_array_equal(plain, out)
        assert smoke == () and len(fire) == 1
        x1, y1, x2, y2 = (round(v * 96) for v in fire[0])
        grey = out.astype(np.float32).mean(axis=2)
        inside = grey[y1 + 2 : y2 - 2, x1 + 2 : x2 - 2]
        outside = np.ones_like(grey, bool)
        outside[max(0, y1 - 3) : y2 + 3, max(0, x1 - 3) : x2 + 3] = False
        # photometric steps change levels but the patch stays far brighter than its surroundings
        assert inside.mean() > grey[outside].mean() + 20, seed
