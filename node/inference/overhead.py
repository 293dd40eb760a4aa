"""What the node's wrapper costs: bare ``InferenceSession.run`` + plain-numpy preprocessing
versus ``ModelSession.run`` + ``prepare_image``, same options, same frames, interleaved.

``citywatch bench`` calls ``measure_wrapper_overhead``; ``benchmarks/wrapper_overhead.py`` runs
it from the command line. Both paths are timed end to end (preprocess + run) with
``time.perf_counter``; the order alternates every iteration so drift on a shared CPU hits both.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from node.inference.preprocess import prepare_image
from node.inference.session import ModelSession, SessionOptions, open_session, warmup_feeds
from schemas.manifest import InputSpec, ModelManifest


def plain_preprocess(image: npt.NDArray[np.uint8], spec: InputSpec) -> npt.NDArray[Any]:
    """The baseline: the same tensor as ``prepare_image``, written inline with numpy."""
    size = spec.image_size()
    assert size is not None
    th, tw = size
    h, w = image.shape[:2]
    if spec.resize == "stretch":
        img = cv2.resize(image, (tw, th))
    else:
        r = min(th / h, tw / w)
        nh, nw = round(h * r), round(w * r)
        img = np.full((th, tw, 3), spec.pad_value, np.uint8)
        centered = spec.resize == "letterbox_center"
        top, left = ((th - nh) // 2, (tw - nw) // 2) if centered else (0, 0)
        img[top : top + nh, left : left + nw] = cv2.resize(image, (nw, nh))
    if spec.color == "RGB":
        img = img[..., ::-1]
    x: npt.NDArray[Any] = img.astype(np.float32)
    if spec.normalization is not None:
        n = spec.normalization
        x = (x * np.float32(n.scale) - np.array(n.mean, np.float32)) / np.array(n.std, np.float32)
    x = x.astype(spec.dtype)
    if spec.layout == "NCHW":
        x = x.transpose(2, 0, 1)
    return np.ascontiguousarray(x[None])


def _stats(ms: list[float]) -> dict[str, float]:
    a = np.array(ms)
    return {"median_ms": float(np.median(a)), "p90_ms": float(np.percentile(a, 90))}


def measure_wrapper_overhead(
    model_path: str | Path,
    manifest: ModelManifest,
    n: int = 100,
    image: npt.NDArray[np.uint8] | None = None,
    options: SessionOptions | None = None,
    warmup: int = 5,
) -> dict[str, Any]:
    """Median/p90 of both paths over ``n`` interleaved frames and the ratio of medians."""
    options = options or SessionOptions()
    spec = manifest.inputs[0]
    is_image = len(manifest.inputs) == 1 and spec.image_size() is not None
    frame = image if image is not None else np.random.default_rng(0).integers(
        0, 256, (480, 640, 3), dtype=np.uint8
    )
    bare = open_session(model_path, options)  # the raw ORT session, no wrapper
    wrapped = ModelSession(model_path, manifest, options)
    fixed = warmup_feeds(manifest.inputs)  # non-image models: no preprocessing on either side

    def run_bare() -> None:
        feeds = {spec.name: plain_preprocess(frame, spec)} if is_image else fixed
        bare.run(None, feeds)

    def run_wrapped() -> None:
        feeds = {spec.name: prepare_image(frame, spec)[0]} if is_image else fixed
        wrapped.run(feeds)

    if is_image:  # a fair comparison needs identical tensors
        np.testing.assert_array_equal(plain_preprocess(frame, spec), prepare_image(frame, spec)[0])
    for _ in range(warmup):
        run_bare()
        run_wrapped()
    times: dict[str, list[float]] = {"bare": [], "wrapper": []}
    paths = (("bare", run_bare), ("wrapper", run_wrapped))
    for i in range(n):
        for key, fn in paths if i % 2 == 0 else paths[::-1]:
            t0 = time.perf_counter()
            fn()
            times[key].append((time.perf_counter() - t0) * 1000.0)
    b, w = _stats(times["bare"]), _stats(times["wrapper"])
    ratio = w["median_ms"] / b["median_ms"]
    return {
        "model": manifest.name,
        "n": n,
        "providers": wrapped.providers,
        "intra_op_threads": options.intra_op_threads,
        "bare_median_ms": b["median_ms"],
        "bare_p90_ms": b["p90_ms"],
        "wrapper_median_ms": w["median_ms"],
        "wrapper_p90_ms": w["p90_ms"],
        "ratio": ratio,
        "overhead_pct": (ratio - 1.0) * 100.0,
        "within_10pct": ratio <= 1.10,
    }
