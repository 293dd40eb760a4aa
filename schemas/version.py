"""One version for every payload contract; bump the minor for additions, the major for breaks."""

from typing import Final, Literal

SchemaVersion = Literal["1.0"]
SCHEMA_VERSION: Final = "1.0"
