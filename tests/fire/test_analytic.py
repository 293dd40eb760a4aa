"""The fire analytic: scores -> alarms -> one event per occurrence; outputs and overlay."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from node.analytics.registry import BuildContext, resolve_builder
from node.clock import ManualClock
from node.fire.analytic import FireAnalytic, FireFactory
from node.fire.model import FireModel, ModelFileError
from node.frame import Frame
from node.lifecycle import EventLifecycle
from node.registry.defaults import default_registry
from node.registry.loader import ModelLoader
from node.registry.store import ModelStore
from schemas.config import NodeConfig
from schemas.config.fire import FireConfig
from schemas.config.models import ModelsConfig
from schemas.events import Lifecycle
from tests.conftest import SharedData
from tests.fire.manifests import scripted_manifest

FIRE_IMAGE = (
    "datasets/fire_smoke/valid/images/fire1_mp4-23_jpg.rf.ae8ce7517eb013738134e37dd8792de2.jpg"
)
NO_FIRE_IMAGE = "datasets/images/bus.jpg"


class ScriptedBackend:
    """Returns the next scripted (fire, smoke) scores; the feature map has a hot top-left cell."""

    def __init__(self, scores: list[tuple[float, float]], channels: int) -> None:
        self._scores: Iterator[tuple[float, float]] = iter(scores)
        self._channels = channels

    def run(self, batch: npt.NDArray[np.float32]) -> tuple[
        npt.NDArray[np.float32], npt.NDArray[np.float32]
    ]:
        feats = np.zeros((1, self._channels, 12, 12), np.float32)
        feats[0, :, 1:3, 1:3] = 1.0
        return np.array([next(self._scores)], np.float32), feats


def scripted_model(scores: list[tuple[float, float]], channels: int = 8) -> FireModel:
    # a head that weighs every channel positively, so the hot cell is the CAM peak
    manifest = scripted_manifest({"weight": [[1.0] * channels] * 2, "bias": [0.0, 0.0]})
    return FireModel(manifest, ScriptedBackend(scores, channels))


Seen = list[tuple[str, Lifecycle]]


def run_sequence(
    analytic: FireAnalytic,
    lifecycle: EventLifecycle,
    clock: ManualClock,
    images: list[npt.NDArray[np.uint8]],
) -> Seen:
    events: Seen = []
    for i, img in enumerate(images):
        frame = Frame("cam1", i, img, clock.time(), clock.monotonic())
        result = analytic.analyze(frame)
        emitted = lifecycle.observe(frame, result.observations)
        events += [(e.event.type, e.event.lifecycle) for e in emitted]
        clock.advance(1.0)
    for _ in range(10):  # the pipeline keeps expiring while nothing is analysed
        clock.advance(1.0)
        emitted = lifecycle.expire(clock.monotonic(), clock.time())
        events += [(e.event.type, e.event.lifecycle) for e in emitted]
    return events


def test_flickering_fire_yields_one_event_new_then_end() -> None:
    cfg = FireConfig(enabled=True, k=3, n=5, threshold_fire=0.6, threshold_smoke=0.6)
    fire = [(0.9, 0.1), (0.4, 0.1), (0.95, 0.1), (0.8, 0.1), (0.55, 0.1), (0.9, 0.1), (0.3, 0.1)]
    quiet = [(0.05, 0.05)] * 8
    model = scripted_model(fire + quiet)
    analytic = FireAnalytic(cfg, lambda: model)
    clock = ManualClock()
    lc = EventLifecycle("node1", "cam1", update_interval_s=cfg.update_interval_s,
                        end_after_s=cfg.end_after_s)
    img = np.zeros((120, 160, 3), np.uint8)
    events = run_sequence(analytic, lc, clock, [img] * (len(fire) + len(quiet)))
    assert events == [("fire", Lifecycle.NEW), ("fire", Lifecycle.END)]


def test_outputs_and_observation_carry_scores_box_and_alarm() -> None:
    cfg = FireConfig(enabled=True, k=1, n=1, threshold_fire=0.5, threshold_smoke=0.5)
    model = scripted_model([(0.9, 0.2)])
    result = FireAnalytic(cfg, lambda: model).analyze(
        Frame("cam1", 0, np.zeros((240, 320, 3), np.uint8), 0.0, 0.0)
    )
    out = result.outputs
    assert out["fire"] == pytest.approx(0.9) and out["smoke"] == pytest.approx(0.2)
    assert out["alarm"] is True and out["active"] == {"fire": True, "smoke": False}
    assert out["labels"] == ["fire"] and out["boxes"] == [out["cam_box"]["fire"]]
    _x1, _y1, x2, y2 = out["cam_box"]["fire"]
    assert x2 <= 160 and y2 <= 120  # the hot cells are in the top-left quarter
    assert out["cam_box"]["smoke"] is None  # below its threshold: no box computed
    (obs,) = result.observations
    assert (obs.key, obs.type, obs.label) == ("fire", "fire", "fire")
    assert obs.box is not None and obs.severity.value == "critical"
    assert result.overlay is not None and result.overlay.shape == (240, 320, 3)


def test_disabled_class_and_overlay_switch() -> None:
    cfg = FireConfig(enabled=True, k=1, n=1, classes=["smoke"], overlay=False,
                     threshold_fire=0.5, threshold_smoke=0.5)
    model = scripted_model([(0.9, 0.2)])
    result = FireAnalytic(cfg, lambda: model).analyze(
        Frame("cam1", 0, np.zeros((64, 64, 3), np.uint8), 0.0, 0.0)
    )
    assert result.observations == [] and result.outputs["alarm"] is False
    assert result.overlay is None


def _read(shared: SharedData, rel: str) -> npt.NDArray[np.uint8]:
    img = cv2.imread(str(shared.path(rel)), cv2.IMREAD_COLOR)
    assert img is not None
    return np.asarray(img, np.uint8)


@pytest.fixture(scope="module")
def bundled(tmp_path_factory: pytest.TempPathFactory) -> FireFactory:
    """The default config: the bundled FP32 model through the node's model loader."""
    cfg = NodeConfig.model_validate({"analytics": {"fire": {"enabled": True}}})
    store = ModelStore(tmp_path_factory.mktemp("store"), progress_stream=None)
    loader = ModelLoader(store, ModelsConfig(pull_missing=False))
    ctx = BuildContext(node_id="n", data_dir=Path(), models=loader)
    factory = resolve_builder("fire")(cfg, ctx)
    assert isinstance(factory, FireFactory)
    assert loader.slot_of("fire") == "fire_cls"
    return factory


def test_default_config_loads_through_the_registry(tmp_path: Path) -> None:
    cfg = NodeConfig.model_validate({"analytics": {"fire": {"enabled": True, "precision": "int8"}}})
    loader = ModelLoader(ModelStore(tmp_path, progress_stream=None), ModelsConfig())
    resolve_builder("fire")(cfg, BuildContext(node_id="n", data_dir=Path(), models=loader))
    assert list(loader.handles()) == ["fire_cls_int8"]
    assert not list(tmp_path.iterdir())  # bundled: nothing downloaded or copied
    with pytest.raises(ModelFileError, match="model loader"):
        resolve_builder("fire")(cfg, BuildContext(node_id="n", data_dir=Path()))


def test_a_registry_model_the_fire_manifest_does_not_describe_is_refused(tmp_path: Path) -> None:
    cfg = NodeConfig.model_validate(
        {"analytics": {"fire": {"enabled": True, "model": "fire_swapped"}}}
    )
    good = default_registry()["fire_cls"]
    swapped = good.model_copy(
        update={
            "manifest": good.manifest.model_copy(
                update={"name": "fire_swapped", "labels": ["smoke", "fire"]}
            )
        }
    )
    store = ModelStore(tmp_path, {"fire_swapped": swapped}, progress_stream=None)
    loader = ModelLoader(store, ModelsConfig())
    with pytest.raises(ModelFileError, match="labels"):
        resolve_builder("fire")(cfg, BuildContext(node_id="n", data_dir=Path(), models=loader))


def test_bundled_source_opens_the_file_directly() -> None:
    cfg = NodeConfig.model_validate(
        {"analytics": {"fire": {"enabled": True, "model_source": "bundled"}}}
    )
    factory = resolve_builder("fire")(cfg, BuildContext(node_id="n", data_dir=Path()))
    assert isinstance(factory, FireFactory) and factory.model_label is not None


@pytest.mark.shared_data
def test_committed_model_scores_fire_image_and_boxes_the_fire(
    shared_data: SharedData, bundled: FireFactory
) -> None:
    img = _read(shared_data, FIRE_IMAGE)
    result = bundled.create("cam1").analyze(Frame("cam1", 0, img, 0.0, 0.0))
    out = result.outputs
    assert out["alarm"] is True and out["above_threshold"]["fire"] is True, out
    assert out["cam_box"]["fire"] is not None and result.overlay is not None


@pytest.mark.shared_data
def test_committed_model_stays_quiet_on_a_street_scene(
    shared_data: SharedData, bundled: FireFactory
) -> None:
    img = _read(shared_data, NO_FIRE_IMAGE)
    analytic = bundled.create("cam1")
    results = [analytic.analyze(Frame("cam1", i, img, float(i), float(i))) for i in range(5)]
    assert not any(r.outputs["alarm"] for r in results), results[0].outputs
    assert not any(r.observations for r in results)


@pytest.mark.shared_data
def test_committed_model_on_a_video_like_sequence_yields_one_fire_event(
    shared_data: SharedData, bundled: FireFactory
) -> None:
    fire = _read(shared_data, FIRE_IMAGE)
    street = _read(shared_data, NO_FIRE_IMAGE)
    analytic = bundled.create("cam1")
    assert isinstance(analytic, FireAnalytic)
    clock = ManualClock()
    lc = EventLifecycle("n", "cam1", update_interval_s=30.0, end_after_s=bundled.end_after_s)
    events = run_sequence(analytic, lc, clock, [street] * 3 + [fire] * 8 + [street] * 8)
    fire_events = [e for e in events if e[0] == "fire"]
    assert fire_events == [("fire", Lifecycle.NEW), ("fire", Lifecycle.END)]


async def test_model_swap_accepts_only_files_the_fire_manifest_describes(tmp_path: Path) -> None:
    """The CAM head and thresholds belong to one export: `model_swap` of the fire slot to another
    file replies `manifest_mismatch` (the old model keeps serving); FP32 -> INT8 is accepted."""
    import hashlib

    from node.commands.errors import CommandError
    from node.commands.model_swap import ModelCommands, ModelSwapParams
    from node.fire.model import DEFAULT_MANIFEST
    from schemas.commands import ErrorCode

    cfg = NodeConfig.model_validate({"analytics": {"fire": {"enabled": True}}})
    loader = ModelLoader(ModelStore(tmp_path / "store", progress_stream=None), ModelsConfig())
    resolve_builder("fire")(cfg, BuildContext(node_id="n", data_dir=Path(), models=loader))
    handle = loader.handle("fire_cls")
    original = handle.session

    async def publish(suffix: str, payload: bytes) -> None:
        pass

    commands = ModelCommands(loader, publish)
    other = tmp_path / "other_fire.onnx"  # e.g. a retrained model: same shapes, another head
    other.write_bytes((DEFAULT_MANIFEST.parent / "fire_fp32.onnx").read_bytes() + b"\0")
    digest = hashlib.sha256(other.read_bytes()).hexdigest()
    bad = ModelSwapParams(analytic="fire", url=other.as_uri(), sha256=digest)
    with pytest.raises(CommandError) as info:
        await commands.swap(bad, None)  # type: ignore[arg-type]
    assert info.value.code == ErrorCode.MANIFEST_MISMATCH and "CAM head" in str(info.value)
    assert handle.session is original
    await commands.swap(ModelSwapParams(analytic="fire", name="fire_cls_int8"), None)  # type: ignore[arg-type]
    assert handle.session is not original
    assert handle.sha256 == default_registry()["fire_cls_int8"].manifest.sha256
