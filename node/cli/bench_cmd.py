"""``citywatch bench``: how fast the node's models and pipeline run on this machine."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

DEFAULT_MODELS = "yolox_nano,yunet,mobilefacenet"


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "bench",
        help="Benchmark models (per provider), wrapper overhead and pipeline fps.",
        description=(
            "Per model: input size, file size, median/p90 latency and fps for each available "
            "provider; the node wrapper's overhead over a bare ONNX Runtime session; the "
            "pipeline fps on a video (decode vs. pipeline) and the objects analytic fps; the "
            "movement stage (MoveNet pose + features + classifier) per frame at 1, 3 and 6 people."
        ),
    )
    p.add_argument("--models", default=DEFAULT_MODELS, help="Comma-separated registry names.")
    p.add_argument("--video", help="Video for pipeline and analytic fps (skipped without one).")
    p.add_argument("--seconds", type=float, default=3.0, help="Seconds per measurement.")
    p.add_argument("--config", "-c", help="Node YAML config (model store, analytics).")
    p.add_argument("--overhead-n", type=int, default=30, help="Frames per wrapper-overhead path.")
    p.add_argument(
        "--movement-runs", type=int, default=20,
        help="Rounds of the movement-stage measurement (0 skips it).",
    )
    p.add_argument(
        "--people-image",
        help="Image whose left and right halves show one person each (e.g. zidane.jpg), tiled "
        "into frames of 1, 3 and 6 people for the movement stage; default: the video's first "
        "frame, else noise (MoveNet's cost hardly depends on the content; `poses_found` says "
        "what it saw).",
    )
    p.add_argument("--json", action="store_true", help="One JSON object instead of tables.")
    p.set_defaults(func=_bench)


NOISE_SOURCE = "random noise"
VIDEO_SOURCE = "--video first frame"


def _sample_frame(video: str | None) -> tuple[Any, str]:
    """The frame to benchmark on and where it came from: the video's first frame, or noise when
    there is no video or it cannot be read."""
    import cv2
    import numpy as np

    if video:
        cap = cv2.VideoCapture(video)
        ok, frame = cap.read()
        cap.release()
        if ok:
            return frame, VIDEO_SOURCE
    return np.random.default_rng(0).integers(0, 256, (1080, 1920, 3), dtype=np.uint8), NOISE_SOURCE


def movement_stage(args: argparse.Namespace, config: Any, store: Any, frame: Any,
                   source: str = NOISE_SOURCE) -> dict[str, Any]:
    """The movement stage as the node builds it: MoveNet and the classifier through the model
    loader (threads from the config's `models` section), pose input from `analytics.movement`."""
    import cv2

    from node.bench import movement_latency
    from node.movement.factory import classifier_from
    from node.movement.pose_estimator import PoseEstimator
    from node.registry.loader import ModelLoader

    cfg = config.analytics.movement
    try:
        loader = ModelLoader(store, config.models)
        pose = loader.load(cfg.pose_model, analytic="movement.pose")
        estimator = PoseEstimator(
            lambda: pose.session, pose.session.manifest.inputs[0].name, cfg.pose_long_side
        )
        classifier = classifier_from(cfg, loader)
        image = frame
        if args.people_image:
            image = cv2.imread(args.people_image, cv2.IMREAD_COLOR)
            if image is None:
                raise ValueError(f"cannot read --people-image {args.people_image}")
        out = movement_latency(
            estimator, classifier, image, args.movement_runs,
            min_keypoint_score=cfg.min_keypoint_score,
        )
    except Exception as err:  # reported like a failing provider: the rest still prints
        return {"error": f"{type(err).__name__}: {err}"}
    opts = pose.session.options
    out.update(
        image=args.people_image or source,
        pose_model=pose.session.manifest.label,
        pose_long_side=cfg.pose_long_side,
        intra_op_threads=opts.intra_op_threads,
        providers=pose.session.providers,
    )
    return out


def run_bench(args: argparse.Namespace) -> dict[str, Any]:
    from node.bench import analytic_fps, bench_model, bench_providers, machine_info, rows_as_dicts
    from node.cli.analyze_cmd import build_analyzer
    from node.config import load_config
    from node.inference.overhead import measure_wrapper_overhead
    from node.inference.providers import CPU
    from node.inference.session import SessionOptions
    from node.registry.loader import ModelLoader
    from node.registry.store import store_from_config

    config = load_config(args.config)
    m = config.models
    store = store_from_config(
        m.store_dir, m.mirror, m.download_timeout_s, progress_stream=sys.stderr
    )
    frame, source = _sample_frame(args.video)
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    rows, overhead = [], []
    loader = ModelLoader(store, m)  # for the options the node would run each model with
    for name in names:
        path, manifest = store.ensure(name)
        options = loader.session_options(name, manifest.name)
        for provider in bench_providers():
            rows.append(bench_model(path, manifest, provider, args.seconds, frame, options))
        overhead.append(
            measure_wrapper_overhead(
                path, manifest, n=args.overhead_n, image=frame,
                options=SessionOptions(providers=(CPU,)),
            )
        )  # fmt: skip
    result: dict[str, Any] = {
        "machine": machine_info(),
        "frame": {"width": int(frame.shape[1]), "height": int(frame.shape[0]), "source": source},
        "latency": rows_as_dicts(rows),
        "wrapper_overhead": overhead,
    }
    if args.video:
        from node.pipeline.bench import run_pipeline_benchmark

        result["pipeline"] = run_pipeline_benchmark(args.video, args.seconds * 2, rounds=2)
        analyzer = build_analyzer(args.config, ["objects"])
        result["objects_analytic"] = analytic_fps(analyzer, Path(args.video), args.seconds * 2)
    if args.movement_runs > 0:
        result["movement"] = movement_stage(args, config, store, frame, source)
    return result


def print_tables(r: dict[str, Any]) -> None:
    mi = r["machine"]
    print(
        f"machine: {mi['cpu_count']} CPU(s) {mi['machine']}, onnxruntime {mi['onnxruntime']}, "
        f"providers {', '.join(mi['providers'])}; frame {r['frame']['width']}x"
        f"{r['frame']['height']}"
    )
    print(f"\n{'model':<19}{'provider':<28}{'input':<16}{'MB':>6}{'median ms':>11}"
          f"{'p90 ms':>9}{'fps':>8}")  # fmt: skip
    for x in r["latency"]:
        if x["error"]:
            print(f"{x['model']:<19}{x['provider']:<28}error: {x['error']}")
            continue
        print(f"{x['model']:<19}{x['provider']:<28}{x['input']:<16}{x['file_mb']:>6.1f}"
              f"{x['median_ms']:>11.1f}{x['p90_ms']:>9.1f}{x['fps']:>8.1f}")  # fmt: skip
    print(f"\n{'wrapper overhead':<19}{'bare ms':>9}{'wrapper ms':>12}{'overhead':>10}")
    for o in r["wrapper_overhead"]:
        print(f"{o['model']:<19}{o['bare_median_ms']:>9.1f}{o['wrapper_median_ms']:>12.1f}"
              f"{o['overhead_pct']:>+9.1f}%")  # fmt: skip
    if "pipeline" in r:
        p, a = r["pipeline"], r["objects_analytic"]
        print(f"\npipeline (no-op analytic): decode {p['decode_fps']:.1f} fps, pipeline "
              f"{p['pipeline_fps']:.1f} fps, ratio {p['ratio']:.3f}")  # fmt: skip
        print(f"objects analytic, every frame: {a['fps']:.1f} fps ({a['frames']} frames)")
    if "movement" in r:
        print_movement(r["movement"])


def print_movement(mv: dict[str, Any]) -> None:
    if "error" in mv:
        print(f"\nmovement stage: error: {mv['error']}")
        return
    print(f"\nmovement stage per frame ({mv['pose_model']} at {mv['pose_long_side']} + "
          f"{mv['classifier']}; {mv['frame']} frames from {mv['image']}; "
          f"ORT intra-op threads: {mv['intra_op_threads'] or 'one per core'}; medians of "
          f"{mv['runs']}):")
    print(f"{'people':>6}{'poses':>7}{'pose ms':>10}{'feat+clf ms':>13}{'total ms':>10}"
          f"{'p90 ms':>9}")  # fmt: skip
    for x in mv["rows"]:
        print(f"{x['people']:>6}{x['poses_found']:>7}{x['pose_ms']:>10.1f}"
              f"{x['features_classifier_ms']:>13.1f}{x['total_ms']:>10.1f}"
              f"{x['p90_total_ms']:>9.1f}")  # fmt: skip


def _bench(args: argparse.Namespace) -> int:
    from node.config import ConfigError
    from node.inference.errors import ModelError

    try:
        result = run_bench(args)
    except (ConfigError, ModelError, KeyError, ValueError) as err:
        print(f"citywatch bench: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_tables(result)
    return 0
