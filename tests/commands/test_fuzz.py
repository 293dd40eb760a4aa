"""Property test: random and malformed payloads always get one valid reply, nothing escapes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from node.clock import ManualClock
from node.commands import CommandDispatcher, register_builtin, signed_envelope
from node.mqtt.message import Message
from node.mqtt.topics import Topics
from schemas.commands import ErrorCode, Reply
from schemas.config.commands import CommandsConfig
from tests.commands.conftest import SECRET, Recorder
from tests.commands.test_builtin import FakeControl, make_config
from tests.commands.test_dispatcher import register_all

# Unsigned: the acceptance figure (>= 1000 payloads). Signed: the same generator again, fewer
# examples, since every payload there stops at or before the signature check.
EXAMPLES = {False: 1000, True: 300}
NAMES = ["echo", "boom", "refuse", "nothing", "ping", "set", "snapshot", "get_config", "nope"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12,
)
envelope_keys = st.sampled_from(["request_id", "params", "ts", "nonce", "sig", "extra"])
envelopes = st.dictionaries(envelope_keys, json_values, max_size=6)
good_params = st.fixed_dictionaries(
    {"params": st.sampled_from([
        {"text": "hi"}, {"text": "a", "times": 3}, {"target": "camera", "name": "gate",
                                                    "enabled": True},
        {"camera": "gate"}, {},
    ])}
)


def _dump(obj: Any) -> bytes:
    return json.dumps(obj).encode()


payloads = st.one_of(
    st.binary(max_size=64),  # binary junk
    st.text(max_size=40).map(str.encode),  # text that is rarely JSON
    json_values.map(_dump),  # random JSON of any type
    envelopes.map(_dump),  # random envelopes with wrong types
    good_params.map(_dump),  # plausible commands
    st.builds(lambda s, c: _dump(s)[:c], envelopes, st.integers(0, 30)),  # truncated JSON
    st.just(b"x" * 5000),  # over the size limit
)


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    lp = asyncio.new_event_loop()
    yield lp
    lp.close()


def _dispatcher(signed: bool, recorder: Recorder, clock: ManualClock) -> CommandDispatcher:
    cfg = CommandsConfig(
        require_signature=signed,
        secret=SecretStr(SECRET) if signed else None,
        max_payload_bytes=4096,
    )
    d = register_all(CommandDispatcher("node-1", Topics("citywatch", "node-1"), cfg, recorder,
                                       clock))
    register_builtin(d, FakeControl(), make_config(), clock)
    return d


@pytest.mark.parametrize("signed", [False, True])
def test_random_payloads_always_get_a_reply(
    loop: asyncio.AbstractEventLoop, signed: bool
) -> None:
    recorder, clock = Recorder(), ManualClock()
    d = _dispatcher(signed, recorder, clock)
    topics = d.topics
    seen = {"examples": 0}

    @settings(max_examples=EXAMPLES[signed], deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(name=st.sampled_from(NAMES), payload=payloads, response=st.booleans())
    def one(name: str, payload: bytes, response: bool) -> None:
        seen["examples"] += 1
        before = len(recorder.sent)
        msg = Message(topics.command(name), payload, qos=1,
                      response_topic="clients/fuzz/inbox" if response else None,
                      correlation_data=b"c" if response else None)
        loop.run_until_complete(d.handle(msg))  # must not raise
        replies = [p for p in recorder.sent[before:] if p.topic != topics.camera_snapshot("gate")]
        assert len(replies) == 1
        reply = Reply.model_validate_json(replies[0].payload)
        assert reply.command == name
        assert replies[0].topic == ("clients/fuzz/inbox" if response else topics.reply(name))
        assert reply.ok == (reply.code is None)
        if not reply.ok:
            assert reply.code in set(ErrorCode) and reply.message

    one()
    assert seen["examples"] >= EXAMPLES[signed]
    refused = {k: v for k, v in d.stats().items() if k != "ok"}
    assert sum(d.stats().values()) == seen["examples"]
    assert len(refused) >= 5  # the generator reaches many distinct refusals
    # still serving: a well-formed (signed when required) ping answers ok
    env = signed_envelope(SECRET, "ping", {}, ts=clock.time()) if signed else {}
    loop.run_until_complete(d.handle(Message(topics.command("ping"), _dump(env))))
    assert json.loads(recorder.sent[-1].payload)["ok"] is True
