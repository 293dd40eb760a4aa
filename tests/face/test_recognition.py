"""Real data: celeb5 enrollment and identification, LOIO false accepts, enrollment error codes,
and the face analytic driving the gate."""

from __future__ import annotations

import base64
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from node.clock import ManualClock
from node.commands.errors import CommandError
from node.face.analytic import FaceFactory
from node.face.engine import FaceEngine
from node.face.enroll import EnrollPolicy, FaceService, decode_base64
from node.face.evaluate import closed_set_accuracy, embed_tree, leave_one_identity_out
from node.face.events import FACE_RECOGNIZED, FACE_UNKNOWN
from node.face.gallery import Gallery
from node.face.gate import AuthorisationGate
from node.face.quality import QualityLimits
from node.frame import Frame
from schemas.attributes import FaceRecognizedAttributes, FaceUnknownAttributes
from schemas.commands import ErrorCode
from schemas.config.faces import FacesConfig
from schemas.config.gate import GateConfig, GateMode

pytestmark = pytest.mark.shared_data
DEFAULT = FacesConfig()


def test_celeb5_all_test_images_identified(engine: FaceEngine, celeb5: Path) -> None:
    gallery, probes = embed_tree(engine, celeb5 / "train"), embed_tree(engine, celeb5 / "test")
    assert not gallery.failures and not probes.failures
    assert closed_set_accuracy(gallery, probes) == (5, 5)
    from node.face.evaluate import open_set

    rates = open_set(gallery, probes, DEFAULT.match_threshold, DEFAULT.match_margin)
    assert rates.true_accepts == 5 and rates.false_rejects == 0
    loio = leave_one_identity_out(gallery, probes, DEFAULT.match_threshold, DEFAULT.match_margin)
    assert len(loio) == 5 and sum(r.probes for r in loio) == len(gallery.labels) + 5
    assert sum(r.false_accepts for r in loio) == 0, [r for r in loio if r.false_accepts]


def _png(img: npt.NDArray[np.uint8]) -> bytes:
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return buf.tobytes()


@pytest.fixture
def service(engine: FaceEngine, tmp_path: Path) -> FaceService:
    return FaceService(engine, Gallery(tmp_path / "g.json"), EnrollPolicy(max_image_bytes=600_000))


def _bad_inputs(astronaut: npt.NDArray[np.uint8], zidane: npt.NDArray[np.uint8]) -> dict[
    ErrorCode, bytes
]:
    return {
        ErrorCode.NO_FACE: _png(np.full((240, 320, 3), 128, np.uint8)),
        ErrorCode.MULTIPLE_FACES: _png(cv2.resize(zidane, (640, 360))),
        ErrorCode.FACE_TOO_SMALL: _png(cv2.resize(astronaut, (200, 200),
                                                  interpolation=cv2.INTER_AREA)),
        ErrorCode.FACE_BLURRY: _png(cv2.GaussianBlur(astronaut, (15, 15), 0)),
        ErrorCode.BAD_IMAGE: b"\x89PNG\r\n\x1a\n this is not an image",
        ErrorCode.PAYLOAD_TOO_LARGE: b"\xff" * 600_001,
    }


def test_every_bad_enrollment_input_has_its_code(
    service: FaceService, astronaut: npt.NDArray[np.uint8], shared_data: object, celeb5: Path
) -> None:
    zidane = cv2.imread(str(celeb5.parents[1] / "images" / "zidane.jpg"))
    for code, data in _bad_inputs(astronaut, zidane).items():
        with pytest.raises(CommandError) as err:
            service.enroll_images("ann", [_png(astronaut), data])  # the 2nd image is at fault
        assert err.value.code is code, (code, err.value.message)
        assert "image 1" in err.value.message
    with pytest.raises(CommandError) as err:
        decode_base64("not base64!!", "image 0", 1000)
    assert err.value.code is ErrorCode.BAD_ENCODING
    with pytest.raises(CommandError) as err:
        decode_base64("QUFB" * 1000, "image 0", 1000)
    assert err.value.code is ErrorCode.PAYLOAD_TOO_LARGE
    # the pose check (landmark roll) with a strict limit on a rotated face
    strict = FaceService(
        FaceEngine(service.engine.detector, service.engine.embedder,
                   QualityLimits(max_roll_deg=5)), service.gallery,
    )
    m = cv2.getRotationMatrix2D((225, 118), 20, 1.0)
    with pytest.raises(CommandError) as err:
        strict.enroll_images("ann", [_png(cv2.warpAffine(astronaut, m, (512, 512)))])
    assert err.value.code is ErrorCode.FACE_POSE
    assert service.gallery.names() == []  # all-or-nothing: nothing was stored


def test_enroll_warns_when_too_close(service: FaceService, celeb5: Path) -> None:
    imgs = sorted((celeb5 / "train" / "madonna").iterdir())
    service.enroll_images("madonna", [imgs[0].read_bytes(), imgs[1].read_bytes()])
    res = service.enroll_images("madonna_again", [imgs[2].read_bytes()])
    assert [w["identity"] for w in res.warnings] == ["madonna"]
    b64 = base64.b64encode(imgs[3].read_bytes()).decode()
    assert decode_base64(b64, "x", 10**6) == imgs[3].read_bytes()


def _frames(folder: Path, camera: str = "door") -> list[Frame]:
    out = []
    for i, p in enumerate(sorted(folder.iterdir())):
        img = cv2.imread(str(p))
        big = cv2.copyMakeBorder(img, 100, 100, 200, 200, cv2.BORDER_CONSTANT)  # a wider frame
        out.append(Frame(camera, i, big, 1_700_000_000.0 + i, float(i)))
    return out


def test_analytic_votes_then_opens_gate_and_forgets_removed(
    engine: FaceEngine, celeb5: Path, tmp_path: Path
) -> None:
    service = FaceService(engine, Gallery(tmp_path / "g.json"))
    train = sorted((celeb5 / "train" / "elton_john").iterdir())
    service.enroll_images("elton_john", [p.read_bytes() for p in train[:6]], authorised=True)
    gate = AuthorisationGate(GateConfig(mode=GateMode.FACE, frames=2, ttl_s=30), ManualClock())
    service.gate = gate
    factory = FaceFactory(DEFAULT, engine, service.gallery, gate)
    analytic = factory.create("door")
    # the same still frame, as a camera would see a person standing there
    frame = _frames(celeb5 / "test" / "elton_john")[0]
    types = []
    for i in range(5):
        res = analytic.analyze(Frame("door", i, frame.image, frame.captured_at + i, float(i)))
        types.append([o.type for o in res.observations])
        if i == 1:
            assert not gate.is_open("door")  # one confirmed... not yet: votes need 3 frames
    assert types[:2] == [[], []] and types[2] == [FACE_RECOGNIZED]
    obs = analytic.analyze(frame).observations[0]
    assert isinstance(obs.attributes, FaceRecognizedAttributes)
    assert obs.attributes.identity == "elton_john" and obs.attributes.authorised
    assert gate.is_open("door")
    service.remove("elton_john")
    assert not gate.is_open("door")  # removal closes the session at once
    seen = [[o.type for o in analytic.analyze(frame).observations] for _ in range(3)]
    assert seen[-1] == [FACE_UNKNOWN] and all(FACE_RECOGNIZED not in s for s in seen)
    assert not gate.is_open("door")
    unknown = analytic.analyze(frame).observations[0].attributes
    assert isinstance(unknown, FaceUnknownAttributes) and unknown.crop_jpeg_b64 is None
