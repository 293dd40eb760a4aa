"""Camera-relevant augmentations, numpy/OpenCV only, driven by an explicit RNG (reproducible).

What a street or forest camera does to an image: exposure and white-balance drift, defocus and
motion blur, heavy JPEG/H.264 compression, sensor noise at night, and framing. Crops keep at least
one labelled fire/smoke box centre inside, so a positive image does not silently become negative.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

Box = tuple[float, float, float, float]


def random_crop_rect(
    h: int,
    w: int,
    boxes: list[Box],
    rng: np.random.Generator,
    min_scale: float = 0.45,
) -> tuple[int, int, int, int]:
    """(x0, y0, cw, ch) of a random-resized crop of an ``h`` x ``w`` image that keeps the centre of
    at least one labelled box (if any); the whole image when ten draws fail."""
    for _ in range(10):
        scale = rng.uniform(min_scale, 1.0)
        ratio = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
        cw = round(w * np.sqrt(scale * ratio))
        ch = round(h * np.sqrt(scale / ratio))
        if not (0 < cw <= w and 0 < ch <= h):
            continue
        x0 = int(rng.integers(0, w - cw + 1))
        y0 = int(rng.integers(0, h - ch + 1))
        if not boxes or any(
            x0 <= (b[0] + b[2]) / 2 * w < x0 + cw and y0 <= (b[1] + b[3]) / 2 * h < y0 + ch
            for b in boxes
        ):
            return x0, y0, cw, ch
    return 0, 0, w, h


def random_crop(
    img: npt.NDArray[np.uint8],
    boxes: list[Box],
    rng: np.random.Generator,
    out_size: int,
    min_scale: float = 0.45,
) -> npt.NDArray[np.uint8]:
    """Random-resized crop that keeps the centre of at least one labelled box (if any)."""
    x0, y0, cw, ch = random_crop_rect(img.shape[0], img.shape[1], boxes, rng, min_scale)
    return _resize(img[y0 : y0 + ch, x0 : x0 + cw], out_size)


def crop_boxes(
    boxes: Sequence[Box], rect: tuple[int, int, int, int], h: int, w: int, flip: bool
) -> tuple[Box, ...]:
    """Normalised xyxy boxes of the full image -> the same boxes in the (flipped) crop ``rect``
    (x0, y0, cw, ch in pixels of the ``h`` x ``w`` image); boxes cut off entirely are dropped."""
    x0, y0, cw, ch = rect
    out: list[Box] = []
    for b in boxes:
        x1 = min(1.0, max(0.0, (b[0] * w - x0) / cw))
        x2 = min(1.0, max(0.0, (b[2] * w - x0) / cw))
        y1 = min(1.0, max(0.0, (b[1] * h - y0) / ch))
        y2 = min(1.0, max(0.0, (b[3] * h - y0) / ch))
        if x2 <= x1 or y2 <= y1:
            continue
        out.append((1.0 - x2, y1, 1.0 - x1, y2) if flip else (x1, y1, x2, y2))
    return tuple(out)


def _resize(img: npt.NDArray[np.uint8], size: int) -> npt.NDArray[np.uint8]:
    return np.asarray(cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA), dtype=np.uint8)


def colour_jitter(img: npt.NDArray[np.uint8], rng: np.random.Generator) -> npt.NDArray[np.uint8]:
    """Brightness, contrast, saturation and a small hue shift (large shifts would turn flames
    green, which no camera does)."""
    hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-4, 4)) % 180
    hsv[..., 1] *= rng.uniform(0.6, 1.4)
    hsv[..., 2] *= rng.uniform(0.7, 1.3)
    out = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2BGR).astype(np.float32)
    c = rng.uniform(0.7, 1.3)
    out = (out - out.mean()) * c + out.mean()
    return np.asarray(np.clip(out, 0, 255), dtype=np.uint8)


def blur(img: npt.NDArray[np.uint8], rng: np.random.Generator) -> npt.NDArray[np.uint8]:
    if rng.random() < 0.5:
        k = int(rng.choice([3, 5]))
        return np.asarray(cv2.GaussianBlur(img, (k, k), 0), dtype=np.uint8)
    k = int(rng.choice([3, 5, 7]))
    kernel = np.zeros((k, k), np.float32)
    kernel[k // 2, :] = 1.0 / k  # horizontal motion blur (panning cameras)
    return np.asarray(cv2.filter2D(img, -1, kernel), dtype=np.uint8)


def jpeg(img: npt.NDArray[np.uint8], rng: np.random.Generator) -> npt.NDArray[np.uint8]:
    quality = int(rng.integers(20, 80))
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        return img
    return np.asarray(cv2.imdecode(buf, cv2.IMREAD_COLOR), dtype=np.uint8)


def night(img: npt.NDArray[np.uint8], rng: np.random.Generator) -> npt.NDArray[np.uint8]:
    """Darken with a gamma curve, tint slightly blue and add sensor noise: dusk and night."""
    x = img.astype(np.float32) / 255.0
    x = np.power(x, rng.uniform(1.6, 3.0))
    x *= np.array([1.1, 0.95, 0.85], np.float32)  # BGR: cooler
    x += rng.normal(0.0, rng.uniform(0.01, 0.04), x.shape).astype(np.float32)
    return np.asarray(np.clip(x * 255.0, 0, 255), dtype=np.uint8)


def cctv(img: npt.NDArray[np.uint8], rng: np.random.Generator) -> npt.NDArray[np.uint8]:
    """What a cheap street/CCTV camera does: washed-out grey colours, low contrast, low resolution
    blown up again, sensor noise and heavy compression. Applied to every class (not only to
    negatives) so that "grey and blurry" is not learnt as a cue for either answer: the first
    model called grey low-contrast CCTV scenes smoke."""
    x = img.astype(np.float32)
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float32)[..., None]
    keep = rng.uniform(0.0, 0.6)  # 0 = fully grey
    x = grey + keep * (x - grey)
    mean = float(x.mean())
    x = (x - mean) * rng.uniform(0.4, 0.8) + mean + rng.uniform(-20, 30)  # flat, often lifted
    x += rng.normal(0.0, rng.uniform(1.0, 6.0), x.shape)
    out = np.asarray(np.clip(x, 0, 255), dtype=np.uint8)
    h, w = out.shape[:2]
    side = int(rng.integers(48, 112))  # e.g. 176x144 QCIF seen at 192
    small = cv2.resize(out, (side, max(1, round(side * h / w))), interpolation=cv2.INTER_AREA)
    out = np.asarray(cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR), dtype=np.uint8)
    quality = int(rng.integers(10, 40))
    ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return np.asarray(cv2.imdecode(buf, cv2.IMREAD_COLOR), dtype=np.uint8) if ok else out


def augment(
    img: npt.NDArray[np.uint8],
    boxes: list[Box],
    rng: np.random.Generator,
    out_size: int,
) -> npt.NDArray[np.uint8]:
    """The training augmentation pipeline: BGR uint8 in, BGR uint8 ``out_size`` square out."""
    return augment_with_boxes(img, tuple(boxes), (), rng, out_size)[0]


def augment_with_boxes(
    img: npt.NDArray[np.uint8],
    fire_boxes: Sequence[Box],
    smoke_boxes: Sequence[Box],
    rng: np.random.Generator,
    out_size: int,
) -> tuple[npt.NDArray[np.uint8], tuple[Box, ...], tuple[Box, ...]]:
    """``augment`` that also returns the fire and smoke boxes moved with the crop and the flip
    (normalised xyxy in the output image); the photometric steps do not move them. The random
    draws are the same as ``augment``'s for the same boxes, so both give the same image."""
    h, w = img.shape[:2]
    rect = random_crop_rect(h, w, [*fire_boxes, *smoke_boxes], rng)
    x0, y0, cw, ch = rect
    out = _resize(img[y0 : y0 + ch, x0 : x0 + cw], out_size)
    flip = bool(rng.random() < 0.5)
    if flip:
        out = np.ascontiguousarray(out[:, ::-1])
    if rng.random() < 0.8:
        out = colour_jitter(out, rng)
    if rng.random() < 0.2:
        out = blur(out, rng)
    if rng.random() < 0.15:
        out = night(out, rng)
    if rng.random() < 0.25:
        out = cctv(out, rng)
    elif rng.random() < 0.3:
        out = jpeg(out, rng)
    return out, crop_boxes(fire_boxes, rect, h, w, flip), crop_boxes(smoke_boxes, rect, h, w, flip)
