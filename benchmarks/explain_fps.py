"""Camera pipeline fps while explanations run, against the same pipeline without them, in one run.

    CITYWATCH_TEST_DATA=../shared CITYWATCH_MODEL_MIRROR=../shared/models \\
        python benchmarks/explain_fps.py [--seconds 20] [--rounds 4] [--method rise]

One camera on the 1080p clip (looped, read as fast as it decodes, motion gate off) runs the
``objects`` analytic (yolox_nano, the node's default, one ONNX Runtime thread) with no rate limit,
so the pipeline is CPU-bound: the worst case for anything competing with it. Rounds alternate:
pipeline alone, then pipeline while the node's ``ExplainService`` explains the camera's latest
frame back to back (each request as the MQTT command would make it), so background load on a
shared machine hits both alike. With ``--nice 0`` too, the same with the worker at the node's
priority, to show what the lowered priority buys. Prints one JSON object: fps per condition,
``ratio`` = fps with explanations / fps without (acceptance: >= 0.8), and the explanations made.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from node.analytics.objects import ObjectsFactory
from node.explain.explainer import Explainer
from node.explain.service import ExplainService
from node.explain.sources import MirroredLoader, explain_models
from node.frame import Frame
from node.mqtt.topics import Topics
from node.pipeline.camera import CameraPipeline
from node.registry.loader import ModelLoader
from node.registry.store import store_from_config
from node.sources.capture import LatestFrameCapture
from schemas.config import NodeConfig
from schemas.config.camera import CameraConfig, MotionConfig
from schemas.config.explain import ExplainConfig
from schemas.config.objects import ObjectsConfig
from schemas.events import Event
from schemas.explain import ExplainParams


class _NullSink:
    async def emit(self, event: Event, snapshot_frame: Frame | None) -> None:
        return None


async def _publish(topic: str, payload: bytes) -> None:
    return None


def _video() -> Path:
    root = os.environ.get("CITYWATCH_TEST_DATA", "../shared")
    return Path(root) / "datasets" / "videos" / "pedestrians.mp4"


async def _measure(pipeline: CameraPipeline, seconds: float) -> tuple[int, float]:
    n0, t0 = pipeline.stats.frames_analysed, time.perf_counter()
    await asyncio.sleep(seconds)
    return pipeline.stats.frames_analysed - n0, time.perf_counter() - t0


async def _explaining(service: ExplainService, params: ExplainParams, done: list[dict[str, Any]],
                      stop: asyncio.Event) -> None:  # fmt: skip
    while not stop.is_set():
        done.append(await service.command(params, None))  # type: ignore[arg-type]


async def run(video: Path, seconds: float, rounds: int, method: str, budget: int,
              nices: list[int]) -> dict[str, Any]:  # fmt: skip
    config = NodeConfig.model_validate({"models": {"intra_op_threads": 1}})
    m = config.models
    loader = ModelLoader(store_from_config(m.store_dir, m.mirror, m.download_timeout_s), m)
    handle = loader.load("yolox_nano", analytic="objects")
    factory = ObjectsFactory(ObjectsConfig(enabled=True, fps=10_000.0), lambda: handle.session)
    camera = CameraConfig(name="bench", source=str(video), loop=True, realtime=False,
                          motion=MotionConfig(enabled=False))  # fmt: skip
    model = "fire" if method in ("cam", "gradcam", "rise", "lime") else "objects"
    params = ExplainParams(camera="bench", model=model, method=method, budget=budget)  # type: ignore[arg-type]
    result: dict[str, Any] = {"video": str(video), "analytic": "objects (yolox_nano, 1 thread)",
                              "explain": {"model": model, "method": method, "budget": budget},
                              "seconds_per_round": seconds, "rounds": rounds}  # fmt: skip
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as executor:
        pipeline = CameraPipeline(camera, LatestFrameCapture(camera), [factory], node_id="bench",
                                  sink=_NullSink(), executor=executor)  # fmt: skip
        pipeline.start()
        while pipeline.latest_frame is None:  # noqa: ASYNC110  (a harness: 10 ms polling)
            await asyncio.sleep(0.01)

        async def latest(_: str) -> Frame | None:
            return pipeline.latest_frame

        services = {}
        for nice in nices:
            own = ModelLoader(loader.store, m, intra_op_threads=1)
            services[nice] = ExplainService(
                Explainer(explain_models(config, MirroredLoader(own, loader))),
                ExplainConfig(nice=nice, deadline_s=600, max_budget=budget),
                Topics("citywatch", "bench"), _publish, latest, ["bench"], lambda _: None,
            )  # fmt: skip
            await services[nice].command(params.model_copy(update={"budget": 8}), None)  # type: ignore[arg-type]  # warm-up
        await _measure(pipeline, 2.0)  # warm-up
        fps: dict[str, list[float]] = {"alone": [], **{f"explaining_nice{n}": [] for n in nices}}
        made: dict[str, list[dict[str, Any]]] = {f"explaining_nice{n}": [] for n in nices}
        for _ in range(rounds):
            frames, elapsed = await _measure(pipeline, seconds)
            fps["alone"].append(frames / elapsed)
            for nice, service in services.items():
                key = f"explaining_nice{nice}"
                stop = asyncio.Event()
                task = asyncio.create_task(_explaining(service, params, made[key], stop))
                frames, elapsed = await _measure(pipeline, seconds)
                fps[key].append(frames / elapsed)
                stop.set()
                await task  # the running explanation finishes outside the measured window
        await pipeline.stop()
        for service in services.values():
            await service.close()
    alone = sum(fps["alone"]) / len(fps["alone"])
    result["fps"] = {k: round(sum(v) / len(v), 2) for k, v in fps.items()}
    result["fps_per_round"] = {k: [round(x, 2) for x in v] for k, v in fps.items()}
    result["ratio"] = {k: round(sum(v) / len(v) / alone, 3) for k, v in fps.items()
                       if k != "alone"}  # fmt: skip
    result["explanations"] = {
        k: {"count": len(v), "median_ms": sorted(r["ms"] for r in v)[len(v) // 2] if v else None}
        for k, v in made.items()
    }
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=None, help="default: pedestrians.mp4")
    parser.add_argument("--seconds", type=float, default=20.0, help="per round and condition")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds")
    parser.add_argument("--method", default="rise", help="explanation method (default rise)")
    parser.add_argument("--budget", type=int, default=500, help="forward passes per request")
    parser.add_argument("--nice", type=int, nargs="+", default=[10, 0],
                        help="worker niceness values to compare (default: 10 0)")  # fmt: skip
    args = parser.parse_args()
    video = args.video or _video()
    if not video.is_file():
        print(f"video not found: {video} (set CITYWATCH_TEST_DATA)", file=sys.stderr)
        return 2
    result = asyncio.run(run(video, args.seconds, args.rounds, args.method, args.budget,
                             args.nice))  # fmt: skip
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
