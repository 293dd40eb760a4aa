"""Fixtures: local SMTP and webhook servers, started per test and stopped after."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.notify.servers import SmtpSink, WebhookServer


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def webhook_factory() -> Iterator[Callable[..., WebhookServer]]:
    made: list[WebhookServer] = []

    def make(**kw: Any) -> WebhookServer:
        server = WebhookServer(**kw).start()
        made.append(server)
        return server

    yield make
    for s in made:
        s.stop()
