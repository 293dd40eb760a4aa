"""COCO-80 class names and the mapping from detector labels to the node's suspect labels.

The mapping is keyed by the *detector's* label name, not its class index, so a fine-tuned
detector with its own label list (``gun``, ``drone``, ...) plugs in without code changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.events import Severity

COCO80: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
    "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
)  # fmt: skip


@dataclass(frozen=True)
class SuspectLabel:
    """What a detector label means to the node: event label, event type and severity."""

    label: str
    type: str  # event type = last MQTT topic level, matches ^[a-z0-9_.]+$
    severity: Severity


_S = SuspectLabel
SUSPECT_LABELS: dict[str, SuspectLabel] = {
    # people and what they carry
    "person": _S("person", "object", Severity.INFO),
    "backpack": _S("backpack", "object", Severity.LOW),
    "handbag": _S("bag", "object", Severity.LOW),
    "suitcase": _S("suitcase", "object", Severity.LOW),
    "umbrella": _S("umbrella", "object", Severity.INFO),
    "cell phone": _S("phone", "object", Severity.LOW),
    "camera": _S("camera", "object", Severity.MEDIUM),
    "yellow vest": _S("yellow_vest", "object", Severity.INFO),
    # weapons and things used as weapons
    "knife": _S("knife", "weapon", Severity.HIGH),
    "scissors": _S("scissors", "weapon", Severity.MEDIUM),
    "baseball bat": _S("stick", "weapon", Severity.MEDIUM),
    "stick": _S("stick", "weapon", Severity.MEDIUM),
    "gun": _S("gun", "weapon", Severity.CRITICAL),
    "pistol": _S("pistol", "weapon", Severity.HIGH),  # the suspect detector's classes
    "long_gun": _S("long_gun", "weapon", Severity.HIGH),
    "rifle": _S("gun", "weapon", Severity.CRITICAL),
    "grenade": _S("grenade", "weapon", Severity.CRITICAL),
    # airspace
    "drone": _S("drone", "drone", Severity.HIGH),
    # street context
    "bicycle": _S("bicycle", "vehicle", Severity.INFO),
    "car": _S("car", "vehicle", Severity.INFO),
    "motorcycle": _S("motorcycle", "vehicle", Severity.INFO),
    "bus": _S("bus", "vehicle", Severity.INFO),
    "truck": _S("truck", "vehicle", Severity.INFO),
    "dog": _S("dog", "animal", Severity.INFO),
}

DEFAULT_REPORT: tuple[str, ...] = (
    "person", "backpack", "bag", "suitcase", "phone", "knife", "scissors", "stick", "gun",
    "grenade", "drone", "camera", "yellow_vest", "pistol", "long_gun",
)  # fmt: skip


def suspect_for(detector_label: str) -> SuspectLabel | None:
    """The suspect label of a detector label, or None when the node does not care about it."""
    return SUSPECT_LABELS.get(detector_label)


# node label -> its meaning (several detector labels may share one node label, e.g. gun)
NODE_LABELS: dict[str, SuspectLabel] = {}
for _meaning in SUSPECT_LABELS.values():
    NODE_LABELS.setdefault(_meaning.label, _meaning)


def meaning_of(node_label: str) -> SuspectLabel:
    """Event type and severity of a node label."""
    try:
        return NODE_LABELS[node_label]
    except KeyError:
        raise KeyError(f"unknown node label {node_label!r}; known: {sorted(NODE_LABELS)}") from None
