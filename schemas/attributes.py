"""The ``attributes`` of each event type: one model per type, chosen by the event's ``type``.

``EVENT_TYPES`` is the registry: event type -> its attributes model. The envelope
(``schemas.events.Event``) validates ``attributes`` with the model of its ``type``; the published
JSON Schema is a union with one branch per model (``schemas.export.event_json_schema``).

Adding an event type: one ``EventAttributes`` subclass here (a ``description`` on every field)
and one line in ``EVENT_TYPES``; the analytic that emits it builds that model in its
``Observation``. Adding a type, or an optional field to a model, is a minor version
(``schemas/version.py``); renaming or removing a field, or making one required, is a major one.

Readers keep keys they do not know (``model_extra``) instead of refusing them, so a ``1.0``
consumer reads a ``1.1`` event; the node's writer refuses them (``schemas.events.ensure_writable``),
so nothing undeclared is ever published. String fields whose description lists "known values" may
gain values in a minor version: a reader treats an unknown one as "other".
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer


class OpenModel(BaseModel):
    """Keeps unknown keys (``model_extra``): a newer minor version's fields do not break reading.

    An optional field left unset is not written at all (rather than as ``null``), so each event
    carries only the keys that apply to it, as the node has always published them."""

    model_config = ConfigDict(extra="allow", frozen=True)

    @model_serializer(mode="wrap")
    def _omit_unset_none(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if not isinstance(data, dict):
            return data
        keep = self.model_fields_set | set(self.model_extra or {})
        return {k: v for k, v in data.items() if v is not None or k in keep}


class EventAttributes(OpenModel):
    """Base of every type's attributes, and the attributes of a type this reader does not know
    (all its keys are kept in ``model_extra``)."""


# --- objects analytic: object, weapon, drone, vehicle, animal -------------------------------


class ObjectAttributes(EventAttributes):
    """A tracked object (``node/analytics/objects.py``)."""

    track_id: int = Field(description="The objects tracker's id (per camera).")
    hits: int = Field(ge=0, description="Frames the object was detected in so far.")
    median_score: float = Field(ge=0, le=1, description="Median detection score so far.")
    age_s: float = Field(ge=0, description="Seconds since the object was first seen.")
    zones: list[str] = Field(description="Configured zones the box is in (may be empty).")
    stationary: bool = Field(description="The object has not moved for a while (no updates).")


# --- faces analytic ---------------------------------------------------------------------------


class FaceAttributes(EventAttributes):
    """What every face event carries (``node/face/analytic.py``)."""

    similarity: float = Field(description="Similarity of the voted identity (cosine, -1..1).")
    votes: int = Field(ge=0, description="Frames whose match agreed with the vote.")
    face_track: int = Field(description="The face tracker's id (per camera).")


class FaceRecognizedAttributes(FaceAttributes):
    """``face.recognized``: an enrolled identity, confirmed by votes over several frames."""

    identity: str = Field(description="Enrolled name.")
    authorised: bool = Field(description="The identity may open the gate (`face_authorise`).")


class FaceUnknownAttributes(FaceAttributes):
    """``face.unknown``: a face that matched nobody, confirmed by votes over several frames."""

    crop_jpeg_b64: str | None = Field(
        default=None,
        description="Base64 JPEG of the face (`analytics.faces.publish_unknown_crop`).",
    )


class GateAttributes(EventAttributes):
    """``gate.opened`` / ``gate.closed``: an authorisation session (``node/face/gate.py``)."""

    by: str = Field(description="Identity whose recognition opened the session.")
    reason: str = Field(
        description="Why it opened or closed; known values `recognised`, `expired`, `revoked`."
    )
    until: datetime = Field(description="When the session ends unless extended (UTC).")
    scope: Literal["node", "camera"] = Field(
        description="The gate covers every camera (`node`) or this camera only."
    )


# --- fire analytic: fire, smoke ---------------------------------------------------------------


class FireAttributes(EventAttributes):
    """``fire`` / ``smoke``: a smoothed (k-of-n) alarm of the fire classifier."""

    threshold: float = Field(ge=0, le=1, description="Operating threshold of the class.")
    k_of_n: str = Field(description="Frames above threshold in the window, e.g. `3/5`.")
    localisation: str = Field(
        description="How the box was found; known values `cam`, `localisation_head`."
    )


# --- movement analytic ------------------------------------------------------------------------


class MovementAttributes(EventAttributes):
    """``movement``: one person's action (``label``) while it holds, and the evidence for it.

    Speeds are in body heights per second of video; the gait fields appear only where they were
    measurable, the fall fields only on falls, ``votes`` only on the voted actions."""

    track_id: int = Field(description="The movement tracker's id of the person (per camera).")
    action: str = Field(description="The action, as `label`; known values fall, fight, run, walk.")
    probs: dict[str, float] = Field(description="The classifier's probability of each class.")
    speed: float | None = Field(default=None, description="Box centre speed.")
    limb_speed: float | None = Field(default=None, description="Wrist and ankle speed.")
    activity: float | None = Field(default=None, description="Share of frames with motion.")
    box_deform: float | None = Field(default=None, description="Change of the box's shape.")
    speed_ground: float | None = Field(
        default=None, description="Speed over the ground (across the picture and in depth)."
    )
    speed_depth: float | None = Field(
        default=None, description="Speed towards or away from the camera (a lower bound)."
    )
    periodicity: float | None = Field(
        default=None, description="Autocorrelation of the limbs' swing at the gait period (0..1)."
    )
    cadence: float | None = Field(default=None, description="Steps per second.")
    stride: float | None = Field(default=None, description="Body heights per step.")
    votes: str | None = Field(
        default=None, description="Frames that voted for the action in the window, e.g. `6/8`."
    )
    descent_speed: float | None = Field(default=None, description="Fall: speed of the drop.")
    drop: float | None = Field(default=None, description="Fall: how far the body dropped.")
    time_on_ground_s: float | None = Field(
        default=None, description="Fall: seconds spent on the ground so far."
    )
    visible: bool | None = Field(default=None, description="Fall: the person is still seen.")
    at_end: bool | None = Field(
        default=None,
        description="Fall: seen at the end of the source, on the ground for less than needed.",
    )


class IdentifiedPerson(OpenModel):
    """One person involved in a fall or fight, and who they are."""

    track_id: int = Field(description="`attributes.track_id` of the `movement` events.")
    status: str = Field(
        description="Known values `identified`, `unknown` (matched nobody), `no_face`, "
        "`low_quality` (too small, blurred or turned to embed)."
    )
    identity: str | None = Field(default=None, description="Enrolled name when identified.")
    similarity: float | None = Field(default=None, description="Best match's similarity.")
    authorised: bool | None = Field(default=None, description="When identified: may open the gate.")
    face_box: list[float] | None = Field(
        default=None, description="[x1, y1, x2, y2] of the face, frame pixels."
    )


class MovementIdentifiedAttributes(EventAttributes):
    """``movement.identified``: after a fall or a fight, the people involved identified by their
    faces (``node/movement/escalation.py``)."""

    action: str = Field(description="The action that asked: known values fall, fight.")
    track_ids: list[int] = Field(description="The movement tracker's ids of the people involved.")
    identities: list[str] = Field(description="Known people found, sorted.")
    unknown_faces: int = Field(ge=0, description="Faces that matched nobody.")
    people: list[IdentifiedPerson] = Field(description="One entry per track.")


# --- zones (the objects analytic, cameras with lines and zone rules: node/zones/) --------------


class ZoneObjectAttributes(EventAttributes):
    """The object a line or zone event is about."""

    label: str = Field(description="The object's label (as the event's `label`).")
    track: int = Field(
        description="The objects tracker's current id of the object (it may have taken over a "
        "lost one: docs/zones.md)."
    )


class LineCrossedAttributes(ZoneObjectAttributes):
    """``line.crossed``: an object crossed a counting line (a one-off: `new` only)."""

    line: str = Field(description="Line name from the camera config.")
    direction: str = Field(description="Known values `in`, `out` (the line's sides).")
    crossed_at: datetime = Field(description="When it crossed (UTC).")


class ZoneLoiteringAttributes(ZoneObjectAttributes):
    """``zone.loitering``: a visit longer than the rule's `loitering_s` (ends when it leaves)."""

    zone: str = Field(description="Zone name from the camera config.")
    dwell_s: float = Field(ge=0, description="Seconds in the zone so far.")
    entered_at: datetime = Field(description="When the visit began (UTC).")


class ZoneWrongWayAttributes(ZoneObjectAttributes):
    """``zone.wrong_way``: an object moving against the zone's direction (a one-off)."""

    zone: str = Field(description="Zone name from the camera config.")
    heading_deg: float = Field(description="The object's heading, degrees.")
    allowed_deg: float = Field(description="The zone's allowed direction, degrees.")


class ZoneOvercrowdedAttributes(EventAttributes):
    """``zone.overcrowded``: more than `max_occupancy` inside for `for_s` (ends at the limit)."""

    zone: str = Field(description="Zone name from the camera config.")
    count: int = Field(ge=0, description="Objects inside now.")
    max_occupancy: int = Field(ge=0, description="The rule's limit.")
    by_label: dict[str, int] = Field(description="Objects inside, per label.")
    over_since: datetime = Field(description="When the count went over the limit (UTC).")


# --- notifications (node/notify/) -------------------------------------------------------------


class NotificationFailedAttributes(EventAttributes):
    """``notification.failed``: a notification given up after its attempts (`label` the rule)."""

    rule: str = Field(description="Notification rule (`notifications.rules.<name>`).")
    target: str = Field(description="Target it could not reach (`notifications.targets`).")
    event_id: str = Field(description="`event_id` of the event it was about.")
    event_type: str = Field(description="`type` of the event it was about.")
    attempts: int = Field(ge=0, description="Sends tried (0: given up unsent, e.g. expired).")
    error: str = Field(description="Why the last attempt failed, secrets masked.")


# --- synthetic analytic (demos, delivery tests) -----------------------------------------------


class SyntheticAttributes(EventAttributes):
    """``synthetic``: one occurrence every N analysed frames (``node/analytics/testing.py``)."""

    sequence: int = Field(ge=1, description="Occurrence number since the analytic started.")
    frame_index: int = Field(ge=0, description="Index of the frame that started it.")


# The registry: every event type the node publishes -> its attributes model (one line each).
EVENT_TYPES: dict[str, type[EventAttributes]] = {
    "object": ObjectAttributes,
    "weapon": ObjectAttributes,
    "drone": ObjectAttributes,
    "vehicle": ObjectAttributes,
    "animal": ObjectAttributes,
    "face.recognized": FaceRecognizedAttributes,
    "face.unknown": FaceUnknownAttributes,
    "gate.opened": GateAttributes,
    "gate.closed": GateAttributes,
    "fire": FireAttributes,
    "smoke": FireAttributes,
    "movement": MovementAttributes,
    "movement.identified": MovementIdentifiedAttributes,
    "line.crossed": LineCrossedAttributes,
    "zone.loitering": ZoneLoiteringAttributes,
    "zone.wrong_way": ZoneWrongWayAttributes,
    "zone.overcrowded": ZoneOvercrowdedAttributes,
    "notification.failed": NotificationFailedAttributes,
    "synthetic": SyntheticAttributes,
}


def attributes_model(event_type: str) -> type[EventAttributes]:
    """The attributes model of ``event_type``; ``EventAttributes`` for a type this version does
    not know (a reader keeps its keys; the writer refuses it)."""
    return EVENT_TYPES.get(event_type, EventAttributes)
