"""One version for every payload contract; bump the minor for additions, the major for breaks."""

SCHEMA_VERSION = "1.0"
