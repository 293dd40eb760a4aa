"""Notifications: rules turn events into durable jobs; a worker delivers them through Apprise.

One module per job:

- ``rules``: which rules an event matches (filters, time windows, cooldowns). Pure; clock injected.
- ``templates``: a rule's title and body rendered from the event's fields.
- ``targets``: target names -> secret Apprise URLs (env or file), masking, ``config check``.
- ``apprise_adapter``: the only module that imports Apprise (blocking; runs in worker threads).
- ``store``: jobs and attachments in the outbox's SQLite file, written in the event's transaction.
- ``worker``: sends due jobs off the event loop, retries with backoff and jitter, gives up loudly.
- ``service``: ``Notifier``, the façade the node uses (plan, wake, test, stats).

An event's jobs are keyed by (event_id, rule, target) and stored in the same SQLite transaction as
the event itself, so a notification exists exactly when its event does, survives a restart, and
is never queued twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from node.clock import Clock
from schemas.config import NodeConfig

if TYPE_CHECKING:
    from node.notify.service import Notifier
    from node.notify.store import SqliteHost


def notifier_for(config: NodeConfig, host: SqliteHost, clock: Clock) -> Notifier | None:
    """The node's notifier, None without targets (with targets but no rule it still answers
    ``notify_test``). Apprise is imported only here, when there are targets."""
    n = config.notifications
    if not n.targets:
        return None
    from node.notify.service import Notifier

    return Notifier(n, host, node_id=config.node_id, node_name=config.name, clock=clock)
