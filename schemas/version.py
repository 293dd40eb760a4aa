"""One version for every payload contract, ``MAJOR.MINOR`` (rules in docs/mqtt.md, "Versions").

A minor version only adds optional fields or new event types, so a reader of ``1.x`` reads every
``1.y``; a major version may break, so a reader refuses it with a clear message instead of
guessing. The node writes exactly ``SCHEMA_VERSION``.
"""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import BeforeValidator, Field

SCHEMA_VERSION: Final = "1.1"
SCHEMA_MAJOR: Final = 1
VERSION_PATTERN: Final = r"^1\.(0|[1-9][0-9]*)$"


class UnsupportedVersionError(ValueError):
    """A payload of another major version (or no version at all): this reader cannot read it."""

    def __init__(self, version: object) -> None:
        self.version = version
        super().__init__(
            f"schema_version {version!r} cannot be read here: this reader reads "
            f"{SCHEMA_MAJOR}.x (any {SCHEMA_MAJOR}.MINOR); a new major version changes the "
            "contract, upgrade the citywatch `schemas` package to read it"
        )


def readable_version(version: object) -> str:
    """``version`` if a ``1.x`` reader can read it, else ``UnsupportedVersionError``."""
    if not isinstance(version, str):
        raise UnsupportedVersionError(version)
    major, dot, minor = version.partition(".")
    if major != str(SCHEMA_MAJOR) or not dot or not minor.isdigit():
        raise UnsupportedVersionError(version)
    return version


# The pattern before the validator, so that JSON Schema shows it; the validator runs first.
SchemaVersion = Annotated[
    str,
    Field(
        pattern=VERSION_PATTERN,
        description=(
            "Version of this contract, MAJOR.MINOR. Readers accept any 1.x (minor versions only "
            "add optional fields and event types); the node writes the current one."
        ),
    ),
    BeforeValidator(readable_version),
]
