"""``model_swap`` and ``model_rollback``: replace a running model without a restart.

A swap fetches, verifies, loads, checks and warms up the new model in a worker thread; only when
all of that succeeded does it replace the slot's session (between two frames: analytics read
``handle.session`` once per frame). Any failure leaves the old model serving and replies with the
cause's own ``ErrorCode``. The active model of each slot is a retained state on
``state/model/<slot>``.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from node.commands.dispatcher import CommandContext, CommandDispatcher
from node.commands.errors import CommandError
from node.inference.errors import (
    ChecksumMismatchError,
    FetchFailedError,
    ManifestMismatchError,
    ModelError,
    NoPreviousModelError,
    UnknownModelError,
    UnknownSlotError,
)
from node.inference.handle import ModelHandle
from node.inference.session import ModelSession
from node.mqtt.topics import model_state_suffix
from node.registry.loader import ModelLoader
from schemas.commands import ErrorCode
from schemas.manifest import SHA256_PATTERN, ModelManifest

log = logging.getLogger(__name__)

PublishState = Callable[[str, bytes], Awaitable[None]]

# Most specific first: the first matching class decides the reply code.
ERROR_CODES: tuple[tuple[type[ModelError], ErrorCode], ...] = (
    (FetchFailedError, ErrorCode.FETCH_FAILED),
    (ChecksumMismatchError, ErrorCode.CHECKSUM_MISMATCH),
    (ManifestMismatchError, ErrorCode.MANIFEST_MISMATCH),
    (NoPreviousModelError, ErrorCode.NO_PREVIOUS_MODEL),
    (UnknownModelError, ErrorCode.NOT_FOUND),
    (UnknownSlotError, ErrorCode.NOT_FOUND),
    (ModelError, ErrorCode.MODEL_LOAD_FAILED),
)


# Per-handle checks of a candidate manifest, run by ``model_swap`` before the swap (an analytic
# that reads a model's outputs by its own contract registers one, e.g. the movement classifier's
# class order). A check raises ``ValueError`` with the reason; the swap is refused with
# ``manifest_mismatch`` and the old model keeps serving. Weak keys: a dropped handle drops them.
SlotCheck = Callable[[ModelManifest], None]
_SLOT_CHECKS: weakref.WeakKeyDictionary[ModelHandle, list[SlotCheck]] = (
    weakref.WeakKeyDictionary()
)


def register_slot_check(handle: ModelHandle, check: SlotCheck) -> None:
    """``check(manifest)`` must pass (not raise ``ValueError``) for a swap of ``handle``."""
    _SLOT_CHECKS.setdefault(handle, []).append(check)


class _SlotParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    analytic: str | None = Field(default=None, description="Analytic whose model to change.")
    model: str | None = Field(default=None, description="Model slot to change (its first name).")

    @model_validator(mode="after")
    def _one_target(self) -> _SlotParams:
        if (self.analytic is None) == (self.model is None):
            raise ValueError("give exactly one of `analytic` or `model`")
        return self


class ModelSwapParams(_SlotParams):
    url: str | None = Field(default=None, description="http(s)/file URL of the new ONNX file.")
    name: str | None = Field(default=None, description="Registry name of the new model.")
    sha256: str | None = Field(
        default=None, pattern=SHA256_PATTERN, description="sha256 of the file (required with url)."
    )
    version: str | None = Field(default=None, max_length=64, description="Version to report.")
    manifest: ModelManifest | None = Field(
        default=None, description="Contract of the new model (default: the current one's)."
    )

    @model_validator(mode="after")
    def _one_source(self) -> ModelSwapParams:
        if (self.url is None) == (self.name is None):
            raise ValueError("give exactly one of `url` or `name`")
        if self.url is not None and self.sha256 is None:
            raise ValueError("`sha256` is required with `url`")
        if self.manifest and self.manifest.sha256 and self.sha256 != self.manifest.sha256:
            raise ValueError("`manifest.sha256` differs from `sha256`")
        return self


class ModelRollbackParams(_SlotParams):
    pass


def command_error(err: ModelError) -> CommandError:
    code = next(c for cls, c in ERROR_CODES if isinstance(err, cls))
    return CommandError(code, str(err))


@contextmanager
def _as_command_errors() -> Iterator[None]:
    try:
        yield
    except ModelError as err:
        raise command_error(err) from err


class ModelCommands:
    def __init__(self, loader: ModelLoader, publish_state: PublishState) -> None:
        self.loader = loader
        self.publish_state = publish_state
        self._locks: dict[str, asyncio.Lock] = {}

    def _handle(self, params: _SlotParams) -> ModelHandle:
        with _as_command_errors():
            slot = self.loader.slot_of(params.analytic) if params.analytic else params.model
            assert slot is not None  # the validator guarantees one of the two
            return self.loader.handle(slot)

    def _prepare(self, handle: ModelHandle, params: ModelSwapParams) -> ModelSession:
        """Blocking: fetch, verify, load, check and warm up. Runs in a worker thread."""
        current = handle.session.manifest
        store = self.loader.store
        if params.name is not None:
            entry = store.entry(params.name)
            pinned = entry.manifest.sha256
            if params.sha256 and pinned and params.sha256 != pinned:
                raise ChecksumMismatchError(params.name, pinned, params.sha256)
            path, manifest = store.ensure(params.name)
            manifest = params.manifest or manifest
        else:
            assert params.url is not None and params.sha256 is not None
            path = store.fetch_url(params.url, params.sha256, name=handle.slot)
            manifest = (params.manifest or current).model_copy(
                update={
                    "sha256": params.sha256,
                    "size": path.stat().st_size,
                    "source_url": params.url,
                    "version": params.version or f"sha256-{params.sha256[:12]}",
                }
            )
        if params.version:
            manifest = manifest.model_copy(update={"version": params.version})
        if (manifest.family, manifest.task) != (current.family, current.task):
            # The slot's analytic decodes outputs for its family; another family cannot serve it.
            raise ManifestMismatchError(
                manifest.name,
                [f"family/task {manifest.family}/{manifest.task} != slot's "
                 f"{current.family}/{current.task}"],
            )
        for check in _SLOT_CHECKS.get(handle, ()):
            try:
                check(manifest)
            except ValueError as err:
                raise ManifestMismatchError(manifest.name, [str(err)]) from err
        return self.loader.build_session(path, manifest, handle.slot)

    async def _async_publish(self, handle: ModelHandle) -> dict[str, Any]:
        state = handle.state()
        try:
            payload = state.model_dump_json().encode()
            await self.publish_state(model_state_suffix(handle.slot), payload)
        except Exception:  # the swap happened; a failed state publish must not hide that
            log.exception("could not publish the state of model slot %s", handle.slot)
        return state.model_dump(mode="json")

    async def swap(self, params: ModelSwapParams, ctx: CommandContext) -> dict[str, Any]:
        handle = self._handle(params)
        async with self._locks.setdefault(handle.slot, asyncio.Lock()):
            with _as_command_errors():
                session = await asyncio.to_thread(self._prepare, handle, params)
            old = handle.swap(session)
        log.info(
            "model slot %s: %s -> %s", handle.slot, old.manifest.label, session.manifest.label
        )
        return await self._async_publish(handle)

    async def rollback(self, params: ModelRollbackParams, ctx: CommandContext) -> dict[str, Any]:
        handle = self._handle(params)
        async with self._locks.setdefault(handle.slot, asyncio.Lock()):
            with _as_command_errors():
                restored = handle.rollback()
        log.info("model slot %s rolled back to %s", handle.slot, restored.manifest.label)
        return await self._async_publish(handle)

    async def publish_all(self) -> None:
        """Publish the retained state of every loaded slot (call once connected)."""
        for handle in self.loader.handles().values():
            await self._async_publish(handle)


def register_model_commands(
    dispatcher: CommandDispatcher, loader: ModelLoader, publish_state: PublishState
) -> ModelCommands:
    commands = ModelCommands(loader, publish_state)
    dispatcher.register("model_swap", ModelSwapParams, commands.swap)
    dispatcher.register("model_rollback", ModelRollbackParams, commands.rollback)
    return commands
