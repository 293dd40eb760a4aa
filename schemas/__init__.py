"""citywatch's public contracts: events, commands, replies, config and model manifests.

Everything a consumer of a citywatch node reads or writes is a pydantic v2 model in this
package, versioned with ``SCHEMA_VERSION`` (``MAJOR.MINOR``; readers accept any ``1.x``) and
exported as JSON Schema (``citywatch schema``). Consumers read events with ``schemas.reader``.
"""

from schemas.version import SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION"]
