"""``citywatch analyse PATH...``: run the node's analytics offline on images, folders, videos.

Each source is analysed as its own camera (own trackers, own ``EventLifecycle``), frame by frame
in order, exactly as the node would; no broker. ``--json`` prints one ``AnalyzedFrame`` line per
analysed frame followed by the ``{"event": ...}`` lines the node would publish for it; without
it a human-readable table.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".ts"}


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "analyse",
        aliases=["analyze"],  # the spelling of earlier releases, still accepted
        help="Run the node's models on images, folders or videos (no broker).",
        description=(
            "Analyse images, folders and videos offline and print per-frame outputs followed by "
            "the events the node would publish. Models come from the registry "
            "(CITYWATCH_MODEL_MIRROR=DIR works offline)."
        ),
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="Image, folder or video.")
    p.add_argument(
        "--models", default="objects", help="Comma-separated analytics (default: objects)."
    )
    p.add_argument(
        "--config",
        "-c",
        help=(
            "Node YAML config (analytics settings, model store). A camera whose `source` is the "
            "analysed file lends it its zones, masks, lines and zone rules."
        ),
    )
    p.add_argument("--json", action="store_true", help="JSON lines instead of a table.")
    p.add_argument("--every", type=int, default=1, help="Videos: analyse every N-th frame.")
    p.add_argument("--max-frames", type=int, default=None, help="Videos: stop after N analysed.")
    p.set_defaults(func=_analyze)


@dataclass(frozen=True)
class SourceFrame:
    index: int
    time_s: float
    image: Any  # BGR uint8


def expand_paths(paths: Sequence[str]) -> list[Path]:
    """Files as given; folders become their images and videos, sorted by name."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            out += sorted(
                f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES
            )
        elif p.is_file():
            out.append(p)
        else:
            raise FileNotFoundError(f"{p}: no such file or folder")
    return out


def read_frames(path: Path, every: int = 1, max_frames: int | None = None) -> Iterator[SourceFrame]:
    """Frames of an image (one) or a video (every ``every``-th, at most ``max_frames``)."""
    import cv2

    if path.suffix.lower() in IMAGE_SUFFIXES:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"{path}: not a readable image")
        yield SourceFrame(0, 0.0, image)
        return
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise ValueError(f"{path}: cannot be opened as a video")
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    try:
        index, analysed = 0, 0
        while max_frames is None or analysed < max_frames:
            ok, image = cap.read()
            if not ok:
                break
            if index % every == 0:
                analysed += 1
                yield SourceFrame(index, index / fps, image)
            index += 1
    finally:
        cap.release()


def camera_name(path: Path, known: Mapping[Path, str] | None = None) -> str:
    """The camera a source is analysed as: the config's camera whose ``source`` is this file
    (so its zones and lines apply), else a name (``[a-zA-Z0-9_-]+``) from the file name."""
    if known:
        name = known.get(path.resolve())
        if name is not None:
            return name
    return re.sub(r"[^a-zA-Z0-9_-]", "_", path.stem) or "source"


class Analyzer:
    """Runs analytic factories and their lifecycles over sources like a node's camera would."""

    def __init__(
        self,
        node_id: str,
        factories: Sequence[Any],
        configs: dict[str, Any],
        cameras: Mapping[Path, str] | None = None,
    ) -> None:
        self._node_id = node_id
        self._factories = list(factories)
        self._configs = configs
        self._cameras = dict(cameras or {})

    def run(
        self, path: Path, every: int = 1, max_frames: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Yield ``AnalyzedFrame`` and ``AnalyzeEventLine`` dicts (JSON mode) in order."""
        from node.frame import Frame
        from node.lifecycle import EventLifecycle
        from schemas.analyze import AnalyzedFrame, AnalyzeEventLine

        camera = camera_name(path, self._cameras)
        analytics = [f.create(camera) for f in self._factories]
        lifecycles = [
            EventLifecycle(
                self._node_id,
                camera,
                update_interval_s=self._configs[f.name].update_interval_s,
                end_after_s=f.end_after_s,
                model_label=f.model_label,
            )
            for f in self._factories
        ]
        start_wall = time.time()
        last_mono, last_wall = 0.0, start_wall
        for sf in read_frames(path, every, max_frames):
            last_mono, last_wall = sf.time_s, start_wall + sf.time_s
            frame = Frame(camera, sf.index, sf.image, last_wall, last_mono)
            results = [a.analyze(frame) for a in analytics]
            line = AnalyzedFrame(
                source=str(path),
                frame=sf.index,
                width=frame.width,
                height=frame.height,
                time_s=round(sf.time_s, 4),
                models={r.analytic: r.outputs for r in results},
                inference_ms={r.analytic: round(r.inference_ms, 2) for r in results},
            )
            yield line.model_dump(mode="json")
            for lc, r in zip(lifecycles, results, strict=True):
                for emitted in lc.observe(frame, r.observations):
                    yield AnalyzeEventLine(event=emitted.event).model_dump(mode="json")
        # the source is over: what is still open ends as it would once unseen for end_after_s
        for lc, f in zip(lifecycles, self._factories, strict=True):
            for emitted in lc.expire(last_mono + f.end_after_s, last_wall + f.end_after_s):
                yield AnalyzeEventLine(event=emitted.event).model_dump(mode="json")


def build_analyzer(config_path: str | None, names: Sequence[str]) -> Analyzer:
    """Load the config, enable ``names``, build their factories with the registry's loader."""
    from node.analytics.registry import BuildContext, resolve_builder
    from node.config import load_config
    from node.registry.loader import ModelLoader
    from node.registry.store import store_from_config

    config = load_config(config_path)
    sections: dict[str, Any] = {}
    for name in names:
        section = getattr(config.analytics, name, None)
        if section is None:
            raise KeyError(f"unknown analytic {name!r}")
        sections[name] = section.model_copy(update={"enabled": True})
    config = config.model_copy(update={"analytics": config.analytics.model_copy(update=sections)})
    m = config.models
    # stderr is passed explicitly: the default is bound when the registry module is imported
    store = store_from_config(
        m.store_dir, m.mirror, m.download_timeout_s, progress_stream=sys.stderr
    )
    ctx = BuildContext(node_id=config.node_id, data_dir=Path(config.data_dir))
    ctx.models = ModelLoader(store, m)
    factories = [resolve_builder(name)(config, ctx) for name in names]
    files = {Path(c.source).resolve(): c.name for c in config.cameras if Path(c.source).is_file()}
    return Analyzer(config.node_id, factories, sections, files)


def _fmt_box(box: Sequence[float]) -> str:
    return "[" + ", ".join(f"{v:.0f}" for v in box) + "]"


def print_human(line: dict[str, Any], out: TextIO) -> None:
    if "event" in line:
        e = line["event"]
        box = _fmt_box(e["box"].values()) if e.get("box") else "-"
        print(
            f"  EVENT {e['lifecycle']:<6} {e['type']}/{e['label']} score={e['score']:.2f} "
            f"box={box} track={e['track_id']}",
            file=out,
        )
        return
    print(f"{line['source']} frame {line['frame']} ({line['width']}x{line['height']})", file=out)
    for name, outputs in line["models"].items():
        boxes = outputs.get("boxes", [])
        ms = line["inference_ms"].get(name, 0.0)
        print(f"  {name}: {len(boxes)} box(es), {ms:.1f} ms", file=out)
        tracks = outputs.get("track_ids", [None] * len(boxes))
        for box, label, score, tid in zip(
            boxes, outputs.get("labels", []), outputs.get("scores", []), tracks, strict=False
        ):
            track = f" track {tid}" if tid is not None else ""
            print(f"    {label:<12} {score:.2f} {_fmt_box(box)}{track}", file=out)


def _analyze(args: argparse.Namespace) -> int:
    from node.config import ConfigError
    from node.inference.errors import ModelError

    if args.every < 1 or (args.max_frames is not None and args.max_frames < 1):
        print("--every and --max-frames must be >= 1", file=sys.stderr)
        return 2
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    try:
        paths = expand_paths(args.paths)
        analyzer = build_analyzer(args.config, names)
    except (ConfigError, ModelError, KeyError, FileNotFoundError) as err:
        print(f"citywatch analyse: {err}", file=sys.stderr)
        return 2
    failed = 0
    for path in paths:
        try:
            for line in analyzer.run(path, args.every, args.max_frames):
                if args.json:
                    print(json.dumps(line), flush=False)
                else:
                    print_human(line, sys.stdout)
        except ValueError as err:  # one unreadable file must not stop the others
            print(f"citywatch analyse: {err}", file=sys.stderr)
            failed += 1
    sys.stdout.flush()
    return 1 if failed else 0
