"""Open-set matching, voting, and the gallery's storage guarantees (incl. SIGKILL mid-write)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from node.face.gallery import Gallery, GalleryError
from node.face.matcher import UNKNOWN, Match, Matcher, TrackVoter

EMB = "test:4"


def unit(*v: float) -> npt.NDArray[np.float32]:
    a = np.asarray(v, np.float32)
    return a / np.linalg.norm(a)


def _matcher(threshold: float = 0.5, margin: float = 0.1) -> Matcher:
    emb = np.stack([unit(1, 0, 0, 0), unit(1, 0.2, 0, 0), unit(0, 1, 0, 0), unit(0, 0, 1, 0)])
    return Matcher(emb, ["ann", "ann", "bob", "cat"], threshold, margin)


@pytest.mark.parametrize(
    ("probe", "expected"),
    [
        (unit(1, 0.1, 0, 0), "ann"),  # close to ann's samples
        (unit(0, 0, 0, 1), UNKNOWN),  # like nobody: below threshold
        (unit(0.83, 1, 0, 0), UNKNOWN),  # ann and bob nearly tie: no margin
        (unit(0.2, 1, 0, 0), "bob"),
    ],
)
def test_open_set_decision(probe: npt.NDArray[np.float32], expected: str) -> None:
    assert _matcher().match(probe[None])[0].identity == expected


def test_identity_similarity_is_best_sample() -> None:
    sims = _matcher().similarities(unit(1, 0.2, 0, 0)[None])
    assert sims[0, 0] == pytest.approx(1.0, abs=1e-6)


def test_empty_gallery_is_unknown() -> None:
    m = Matcher(np.zeros((0, 4), np.float32), [], 0.5, 0.1)
    assert m.match(unit(1, 0, 0, 0)[None])[0] == Match(UNKNOWN, 0.0, "", 0.0)


def test_voting_needs_agreeing_frames() -> None:
    v = TrackVoter(window=5, min_votes=3)
    ann, unk = Match("ann", 0.8, "ann", 0.1), Match(UNKNOWN, 0.3, "ann", 0.1)
    assert not v.add(ann).confirmed
    assert not v.add(unk).confirmed
    assert not v.add(ann).confirmed  # 2 of 3
    vote = v.add(ann)
    assert vote.confirmed and vote.identity == "ann" and vote.votes == 3
    for _ in range(3):  # one noisy frame cannot flip it, three can
        vote = v.add(unk)
    assert vote.identity == UNKNOWN and vote.confirmed


def test_voter_rejects_bad_config() -> None:
    with pytest.raises(ValueError):
        TrackVoter(window=2, min_votes=3)


def test_gallery_persists_with_0600(tmp_path: Path) -> None:
    path = tmp_path / "faces" / "gallery.json"
    g = Gallery(path)
    g.add("ann", np.stack([unit(1, 0, 0, 0)]), EMB, metadata={"team": "a"})
    g.add("ann", np.stack([unit(1, 0.1, 0, 0)]), EMB, authorised=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    again = Gallery(path)
    (s,) = again.summaries()
    assert (s.name, s.samples, s.authorised, s.metadata) == ("ann", 2, True, {"team": "a"})
    assert "crops" not in json.loads(path.read_text())["identities"]["ann"] or not json.loads(
        path.read_text()
    )["identities"]["ann"]["crops"]


def test_gallery_remove_deletes_all_data(tmp_path: Path) -> None:
    path = tmp_path / "g.json"
    g = Gallery(path, store_crops=True)
    g.add("ann", np.stack([unit(1, 0, 0, 0)]), EMB, metadata={"badge": "ANN-SECRET-7"},
          crops_png_b64=["Q1JPUC1BTk4="])
    g.add("bob", np.stack([unit(0, 1, 0, 0)]), EMB)
    g.remove("ann")
    text = path.read_text()
    assert "ann" not in text and "ANN-SECRET-7" not in text and "Q1JPUC1BTk4=" not in text
    assert Gallery(path).names() == ["bob"]
    with pytest.raises(KeyError):
        g.remove("ann")


def test_gallery_refuses_other_embedder(tmp_path: Path) -> None:
    g = Gallery(tmp_path / "g.json")
    g.add("ann", np.stack([unit(1, 0, 0, 0)]), EMB)
    with pytest.raises(GalleryError, match="re-enroll"):
        g.add("bob", np.ones((1, 512), np.float32), "facenet:512")


def test_gallery_export_import(tmp_path: Path) -> None:
    a = Gallery(tmp_path / "a.json")
    a.add("ann", np.stack([unit(1, 0, 0, 0)]), EMB, authorised=True)
    assert a.export(tmp_path / "backup.json") == 1
    assert stat.S_IMODE((tmp_path / "backup.json").stat().st_mode) == 0o600
    b = Gallery(tmp_path / "b.json")
    b.add("bob", np.stack([unit(0, 1, 0, 0)]), EMB)
    b.import_file(tmp_path / "backup.json")
    assert b.names() == ["ann", "bob"] and b.is_authorised("ann")
    b.import_file(tmp_path / "backup.json", replace=True)
    assert Gallery(tmp_path / "b.json").names() == ["ann"]


def test_corrupt_gallery_is_an_error_not_a_wipe(tmp_path: Path) -> None:
    path = tmp_path / "g.json"
    path.write_text("{not json")
    with pytest.raises(GalleryError, match="unreadable"):
        Gallery(path)
    assert path.read_text() == "{not json"


WRITER = """
import hashlib, os, sys
import numpy as np
from node.face import gallery as gallery_mod

path, kill_point = sys.argv[1], sys.argv[2]
g = gallery_mod.Gallery(path)
rng = np.random.default_rng(0)
for i in range(3):  # committed writes: the state the file must keep after the kill
    g.add(f"p{i}", rng.standard_normal((40, 128)).astype(np.float32), "mobilefacenet:128")
print("committed", hashlib.sha256(open(path, "rb").read()).hexdigest(), flush=True)


def pause(where):  # [why] tell the parent exactly where we are, then wait to be killed
    print("paused", where, flush=True)
    sys.stdin.readline()
    raise SystemExit("the parent was supposed to SIGKILL us here")


class HalfWriter:  # wraps the temp file: writes half of the bytes, flushes, pauses
    def __init__(self, f):
        self.f = f
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        return self.f.__exit__(*exc)
    def write(self, data):
        self.f.write(data[: len(data) // 2])
        self.f.flush()
        pause("mid_temp")
    def __getattr__(self, name):
        return getattr(self.f, name)


real_fdopen, real_replace = os.fdopen, gallery_mod.Path.replace
if kill_point == "mid_temp":
    gallery_mod.os.fdopen = lambda fd, *a, **k: HalfWriter(real_fdopen(fd, *a, **k))
else:  # before_replace: the temp file is complete and fsynced, the rename not done
    gallery_mod.Path.replace = lambda self, target: pause("before_replace")
g.add("p3", rng.standard_normal((40, 128)).astype(np.float32), "mobilefacenet:128")
"""


@pytest.mark.parametrize("kill_point", ["mid_temp", "before_replace"])
def test_gallery_survives_sigkill_mid_write(tmp_path: Path, kill_point: str) -> None:
    """The writer pauses at a known point inside a write and tells us; we SIGKILL it there.

    No timing: the child's stdout says where it is, so every run kills inside the write.
    """
    path = tmp_path / "gallery.json"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), kill_point],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert proc.stdout is not None
        committed = proc.stdout.readline().split()
        assert committed[0] == "committed", committed
        assert proc.stdout.readline().split() == ["paused", kill_point]
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    torn = list(tmp_path.glob(".gallery.json.*.tmp"))
    assert len(torn) == 1  # the kill really landed inside a write: its temp file is left
    if kill_point == "mid_temp":  # the temp file is a torn prefix, not valid JSON
        with pytest.raises(ValueError):
            json.loads(torn[0].read_bytes())
    assert hashlib.sha256(path.read_bytes()).hexdigest() == committed[1]  # last committed bytes
    g = Gallery(path)  # parses, validates, and sweeps the killed writer's temp file
    assert g.names() == ["p0", "p1", "p2"]
    assert all(g.embeddings(n).shape == (40, 128) for n in g.names())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not list(tmp_path.glob(".gallery.json.*.tmp"))
