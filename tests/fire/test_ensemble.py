"""Round 9's seed ensemble (torch side): one ONNX graph whose scores are the mean of the members'
sigmoid scores and whose feature map is member 0's, exported with torch parity."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.fire.smoke_training import random_images, random_net

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch


def test_ensemble_scores_are_the_members_mean_and_features_member_zeros(tmp_path: Path) -> None:
    import onnxruntime as ort

    from models.fire.ensemble import ensemble_parity, export_ensemble
    from models.fire.export import PARITY_TOL
    from node.fire.preprocess import preprocess

    members = [random_net(0), random_net(1)]
    path = tmp_path / "ens.onnx"
    export_ensemble(members, path, 64)
    images = random_images(tmp_path)
    assert max(ensemble_parity(members, path, images, 64).values()) <= PARITY_TOL

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = preprocess(cv2.imread(str(images[1])), 64)
    scores, feats = sess.run(["scores", "features"], {"input": x})
    with torch.no_grad():
        per_member = [m(torch.from_numpy(x)) for m in members]
    mean = np.mean([torch.sigmoid(lg).numpy() for lg, _ in per_member], axis=0)
    assert np.abs(scores - mean).max() <= PARITY_TOL
    # the two members really differ, so the mean is not either member's score
    assert np.abs(torch.sigmoid(per_member[0][0]).numpy() - mean).max() > 1e-3
    assert np.abs(feats - per_member[0][1].numpy()).max() <= PARITY_TOL


def test_ensemble_needs_members_and_their_checkpoints(tmp_path: Path) -> None:
    from models.fire.ensemble import EnsembleExport, load_members

    with pytest.raises(ValueError, match="at least one member"):
        EnsembleExport([])
    with pytest.raises(FileNotFoundError, match=r"fire_best\.pt"):
        load_members([tmp_path / "nowhere"])


def test_int8_keeps_every_members_head_in_fp32(tmp_path: Path) -> None:
    import onnx

    from models.fire.ensemble import export_ensemble
    from models.fire.quantize import nodes_to_exclude

    path = tmp_path / "ens.onnx"
    export_ensemble([random_net(0), random_net(1)], path, 64)
    kept = set(nodes_to_exclude(path, "head"))
    graph = onnx.load(str(path)).graph
    heads = [n.name for n in graph.node if "/head/" in n.name]
    pools = [n.name for n in graph.node if n.op_type == "ReduceMean"]
    sigmoids = [n.name for n in graph.node if n.op_type == "Sigmoid"]
    assert len(heads) == len(pools) == len(sigmoids) == 2  # one of each per member
    assert set(heads) | set(pools) | set(sigmoids) <= kept
    assert {"/Add", "/Div"} <= kept  # the mean of the two scores stays float
    assert any("members.1/neck" in n for n in kept)
    assert not any("/backbone/" in n for n in kept)  # the bulk of the compute is quantised


def test_members_must_share_a_cut_and_a_copied_head_its_stride(tmp_path: Path) -> None:
    import json

    from models.fire.ensemble import add_localisation_head, load_members
    from models.fire.net import FireNet

    for name, blocks in (("a", 14), ("b", 16)):
        (tmp_path / name).mkdir()
        torch.save(FireNet(blocks).state_dict(), tmp_path / name / "fire_best.pt")
    with pytest.raises(ValueError, match="different backbone cuts"):
        load_members([tmp_path / "a", tmp_path / "b"])
    head = {"weight": [[0.0] * 256] * 2, "bias": [0.0, 0.0]}
    source = tmp_path / "source.json"
    source.write_text(json.dumps({"feature_stride": 16, "localisation_head": head}))
    target = tmp_path / "fire_cls.json"
    target.write_text(json.dumps({"feature_stride": 32}))
    with pytest.raises(ValueError, match="another network"):
        add_localisation_head(target, source)
    target.write_text(json.dumps({"feature_stride": 16}))
    add_localisation_head(target, source)
    assert json.loads(target.read_text())["localisation_head"] == head
