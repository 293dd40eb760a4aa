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
