"""MQTT commands ``face_enroll``, ``face_remove``, ``face_list``, ``face_authorise``,
``face_revoke``. Params are pydantic models; inference runs in a worker thread so the event loop
keeps serving MQTT while a face is embedded."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from node.commands.dispatcher import CommandContext, CommandDispatcher
from node.face.enroll import EnrollPolicy, FaceService, decode_base64
from node.face.gallery import IDENTITY_PATTERN
from schemas.commands import NoParams
from schemas.config.faces import FacesConfig

Scalar = str | int | float | bool


class FaceEnrollParams(BaseModel):
    """Enroll from base64 JPEG/PNG images, or from a camera for some seconds (not both)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=IDENTITY_PATTERN, description="Identity name.")
    images: list[str] = Field(default_factory=list, description="Base64 JPEG/PNG images.")
    camera: str | None = Field(default=None, description="Enroll from this camera instead.")
    seconds: float = Field(default=5.0, gt=0, description="How long to sample the camera.")
    authorised: bool | None = Field(
        default=None, description="Set the authorised flag (unchanged when omitted)."
    )
    metadata: dict[str, Scalar] | None = Field(
        default=None, max_length=32, description="Free-form facts stored with the identity."
    )
    replace: bool = Field(default=False, description="Drop the identity's previous samples.")

    @model_validator(mode="after")
    def _one_source(self) -> FaceEnrollParams:
        if bool(self.images) == bool(self.camera):
            raise ValueError("give either `images` or `camera`")
        return self


class FaceNameParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=IDENTITY_PATTERN, description="Identity name.")


def attach_face_commands(
    dispatcher: CommandDispatcher | None, faces: Any, config: FacesConfig, gate: Any, frames: Any
) -> None:
    """Enrollment and authorisation over MQTT, when the faces analytic runs (``faces``: the
    node's ``FaceServices``, None without it; ``frames``: camera frames for enrolment)."""
    if dispatcher is None or faces is None:
        return
    policy = EnrollPolicy.from_config(config)
    service = FaceService(faces.engine, faces.gallery, policy, gate, frames)
    register_face_commands(dispatcher, service)


def register_face_commands(dispatcher: CommandDispatcher, service: FaceService) -> None:
    async def enroll(p: FaceEnrollParams, ctx: CommandContext) -> dict[str, Any]:
        if p.camera:
            result = await service.enroll_from_camera(
                p.name, p.camera, p.seconds, authorised=p.authorised, metadata=p.metadata,
                replace=p.replace,
            )
            return result.as_dict()
        limit = service.policy.max_image_bytes
        blobs = [decode_base64(t, f"image {i}", limit) for i, t in enumerate(p.images)]
        result = await asyncio.to_thread(
            service.enroll_images, p.name, blobs, authorised=p.authorised,
            metadata=p.metadata, replace=p.replace,
        )
        return result.as_dict()

    async def remove(p: FaceNameParams, ctx: CommandContext) -> dict[str, Any]:
        await asyncio.to_thread(service.remove, p.name)
        return {"removed": p.name}

    async def list_(p: NoParams, ctx: CommandContext) -> dict[str, Any]:
        return {"identities": [s.model_dump(mode="json") for s in service.list()]}

    async def authorise(p: FaceNameParams, ctx: CommandContext) -> dict[str, Any]:
        s = await asyncio.to_thread(service.set_authorised, p.name, True)
        return {"identity": s.model_dump(mode="json")}

    async def revoke(p: FaceNameParams, ctx: CommandContext) -> dict[str, Any]:
        s = await asyncio.to_thread(service.set_authorised, p.name, False)
        return {"identity": s.model_dump(mode="json")}

    dispatcher.register("face_enroll", FaceEnrollParams, enroll)
    dispatcher.register("face_remove", FaceNameParams, remove)
    dispatcher.register("face_list", NoParams, list_)
    dispatcher.register("face_authorise", FaceNameParams, authorise)
    dispatcher.register("face_revoke", FaceNameParams, revoke)
    # the 1.0 spelling: still answered for senders written against it, until 2.0
    dispatcher.register_alias("face_authorize", "face_authorise")
