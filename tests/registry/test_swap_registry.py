"""Swaps by registry name on the real pinned models (handlers called directly, no broker)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from node.commands.errors import CommandError
from node.commands.model_swap import ModelCommands, ModelRollbackParams, ModelSwapParams
from node.registry.loader import ModelLoader
from node.registry.store import ModelStore
from schemas.commands import ErrorCode
from schemas.config.models import ModelsConfig
from tests.conftest import SharedData


@pytest.fixture
def commands(shared_data: SharedData, tmp_path: Path) -> tuple[ModelCommands, list[str]]:
    store = ModelStore(tmp_path, mirror=str(shared_data.path("models")), progress_stream=None)
    loader = ModelLoader(store, ModelsConfig(intra_op_threads=1))
    loader.load("yolox_nano", analytic="objects")
    published: list[str] = []

    async def publish_state(suffix: str, payload: bytes) -> None:
        published.append(suffix)

    return ModelCommands(loader, publish_state), published


async def test_swap_detector_by_name_and_back(commands: tuple[ModelCommands, list[str]]) -> None:
    cmds, published = commands
    ctx: Any = None  # the handlers do not use the context
    data = await cmds.swap(ModelSwapParams(analytic="objects", name="person_detector"), ctx)
    assert data["active"]["name"] == "person_detector"
    handle = cmds.loader.handle("yolox_nano")
    assert handle.session.manifest.labels == ["person"]
    await cmds.rollback(ModelRollbackParams(model="yolox_nano"), ctx)
    assert handle.name == "yolox_nano"
    assert published == ["state/model/yolox_nano", "state/model/yolox_nano"]


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"name": "yunet"}, ErrorCode.MANIFEST_MISMATCH),  # another family cannot serve the slot
        ({"name": "person_detector", "sha256": "0" * 64}, ErrorCode.CHECKSUM_MISMATCH),
    ],
)
async def test_registry_swap_refusals(
    commands: tuple[ModelCommands, list[str]], params: dict[str, Any], code: ErrorCode
) -> None:
    cmds, published = commands
    with pytest.raises(CommandError) as info:
        await cmds.swap(ModelSwapParams(model="yolox_nano", **params), None)  # type: ignore[arg-type]
    assert info.value.code == code
    assert cmds.loader.handle("yolox_nano").name == "yolox_nano"
    assert published == []
