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
            "pipeline fps on a video (decode vs. pipeline) and the objects analytic fps."
        ),
    )
    p.add_argument("--models", default=DEFAULT_MODELS, help="Comma-separated registry names.")
    p.add_argument("--video", help="Video for pipeline and analytic fps (skipped without one).")
    p.add_argument("--seconds", type=float, default=3.0, help="Seconds per measurement.")
    p.add_argument("--config", "-c", help="Node YAML config (model store, analytics).")
    p.add_argument("--overhead-n", type=int, default=30, help="Frames per wrapper-overhead path.")
    p.add_argument("--json", action="store_true", help="One JSON object instead of tables.")
    p.set_defaults(func=_bench)


def _sample_frame(video: str | None) -> Any:
    import cv2
    import numpy as np

    if video:
        cap = cv2.VideoCapture(video)
        ok, frame = cap.read()
        cap.release()
        if ok:
            return frame
    return np.random.default_rng(0).integers(0, 256, (1080, 1920, 3), dtype=np.uint8)


def run_bench(args: argparse.Namespace) -> dict[str, Any]:
    from node.bench import analytic_fps, bench_model, bench_providers, machine_info, rows_as_dicts
    from node.cli.analyze_cmd import build_analyzer
    from node.config import load_config
    from node.inference.overhead import measure_wrapper_overhead
    from node.inference.session import SessionOptions
    from node.registry.store import store_from_config

    config = load_config(args.config)
    m = config.models
    store = store_from_config(
        m.store_dir, m.mirror, m.download_timeout_s, progress_stream=sys.stderr
    )
    frame = _sample_frame(args.video)
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    rows, overhead = [], []
    for name in names:
        path, manifest = store.ensure(name)
        for provider in bench_providers():
            rows.append(bench_model(path, manifest, provider, args.seconds, frame))
        overhead.append(
            measure_wrapper_overhead(
                path, manifest, n=args.overhead_n, image=frame,
                options=SessionOptions(providers=("CPUExecutionProvider",)),
            )
        )  # fmt: skip
    result: dict[str, Any] = {
        "machine": machine_info(),
        "frame": {"width": int(frame.shape[1]), "height": int(frame.shape[0])},
        "latency": rows_as_dicts(rows),
        "wrapper_overhead": overhead,
    }
    if args.video:
        from node.pipeline.bench import run_pipeline_benchmark

        result["pipeline"] = run_pipeline_benchmark(args.video, args.seconds * 2, rounds=2)
        analyzer = build_analyzer(args.config, ["objects"])
        result["objects_analytic"] = analytic_fps(analyzer, Path(args.video), args.seconds * 2)
    return result


def print_tables(r: dict[str, Any]) -> None:
    mi = r["machine"]
    print(
        f"machine: {mi['cpu_count']} CPU(s) {mi['machine']}, onnxruntime {mi['onnxruntime']}, "
        f"providers {', '.join(mi['providers'])}; frame {r['frame']['width']}x"
        f"{r['frame']['height']}"
    )
    print(f"\n{'model':<16}{'provider':<28}{'input':<16}{'MB':>6}{'median ms':>11}"
          f"{'p90 ms':>9}{'fps':>8}")  # fmt: skip
    for x in r["latency"]:
        if x["error"]:
            print(f"{x['model']:<16}{x['provider']:<28}error: {x['error']}")
            continue
        print(f"{x['model']:<16}{x['provider']:<28}{x['input']:<16}{x['file_mb']:>6.1f}"
              f"{x['median_ms']:>11.1f}{x['p90_ms']:>9.1f}{x['fps']:>8.1f}")  # fmt: skip
    print(f"\n{'wrapper overhead':<16}{'bare ms':>9}{'wrapper ms':>12}{'overhead':>10}")
    for o in r["wrapper_overhead"]:
        print(f"{o['model']:<16}{o['bare_median_ms']:>9.1f}{o['wrapper_median_ms']:>12.1f}"
              f"{o['overhead_pct']:>+9.1f}%")  # fmt: skip
    if "pipeline" in r:
        p, a = r["pipeline"], r["objects_analytic"]
        print(f"\npipeline (no-op analytic): decode {p['decode_fps']:.1f} fps, pipeline "
              f"{p['pipeline_fps']:.1f} fps, ratio {p['ratio']:.3f}")  # fmt: skip
        print(f"objects analytic, every frame: {a['fps']:.1f} fps ({a['frames']} frames)")


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
