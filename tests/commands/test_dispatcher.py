"""The dispatcher: every error code, the order of checks, reply routing, stats and logging."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from node.clock import ManualClock
from node.commands import CommandContext, CommandDispatcher, CommandError, signed_envelope
from node.mqtt.message import Message
from node.mqtt.topics import Topics
from schemas.commands import ErrorCode, NoParams
from schemas.config.commands import CommandsConfig
from schemas.version import SCHEMA_VERSION
from tests.commands.conftest import SECRET, DispatcherFactory, Recorder, cmd


class EchoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str
    times: int = 1


async def echo(p: EchoParams, ctx: CommandContext) -> dict[str, Any]:
    return {"echo": p.text * p.times, "request_id": ctx.request_id, "signed": ctx.signed}


async def boom(p: NoParams, ctx: CommandContext) -> None:
    raise RuntimeError("handler bug")


async def refuse(p: NoParams, ctx: CommandContext) -> None:
    raise CommandError(ErrorCode.CONFLICT, "camera is busy")


async def nothing(p: NoParams, ctx: CommandContext) -> None:
    return None


async def not_serialisable(p: NoParams, ctx: CommandContext) -> dict[str, Any]:
    return {"x": object()}


async def not_a_dict(p: NoParams, ctx: CommandContext) -> Any:
    return [1, 2]


def register_all(d: CommandDispatcher) -> CommandDispatcher:
    d.register("echo", EchoParams, echo)
    d.register("boom", NoParams, boom)
    d.register("refuse", NoParams, refuse)
    d.register("nothing", NoParams, nothing)
    d.register("unserialisable", NoParams, not_serialisable)
    d.register("not_a_dict", NoParams, not_a_dict)
    return d


@pytest.fixture
def dispatcher(make_dispatcher: DispatcherFactory) -> CommandDispatcher:
    return register_all(make_dispatcher(max_payload_bytes=1024))


@pytest.fixture
def signed(make_dispatcher: DispatcherFactory) -> CommandDispatcher:
    return register_all(make_dispatcher(require_signature=True, window_s=30.0))


async def test_ok_reply_goes_to_reply_topic(
    dispatcher: CommandDispatcher, recorder: Recorder, topics: Topics
) -> None:
    await dispatcher.handle(cmd(topics, "echo", {"request_id": "r1", "params": {"text": "hi"}}))
    out = recorder.last
    assert out.topic == topics.reply("echo")
    assert out.correlation_data is None
    assert out.json == {
        "schema_version": SCHEMA_VERSION,
        "node_id": "node-1",
        "command": "echo",
        "request_id": "r1",
        "ok": True,
        "data": {"echo": "hi", "request_id": "r1", "signed": False},
    }


async def test_an_alias_answers_under_its_own_name_and_is_not_listed(
    dispatcher: CommandDispatcher, recorder: Recorder, topics: Topics
) -> None:
    """An old spelling kept for senders of an earlier 1.x (``face_authorize``)."""
    dispatcher.register_alias("ekko", "echo")
    await dispatcher.handle(cmd(topics, "ekko", {"request_id": "r2", "params": {"text": "a"}}))
    assert recorder.last.topic == topics.reply("ekko")
    assert recorder.last.json["ok"] is True and recorder.last.json["command"] == "ekko"
    assert recorder.last.json["data"]["echo"] == "a"
    assert "ekko" not in dispatcher.names
    with pytest.raises(ValueError, match="unknown command"):
        dispatcher.register_alias("x", "nope")
    with pytest.raises(ValueError, match="already registered"):
        dispatcher.register_alias("boom", "echo")


async def test_handler_returning_none_replies_ok_without_data(
    dispatcher: CommandDispatcher, recorder: Recorder, topics: Topics
) -> None:
    await dispatcher.handle(cmd(topics, "nothing", {}))
    assert recorder.last.json["ok"] is True
    assert "data" not in recorder.last.json


BIG = b'{"params": {"text": "' + b"x" * 2000 + b'"}}'


@pytest.mark.parametrize(
    ("name", "payload", "code"),
    [
        ("echo", BIG, ErrorCode.PAYLOAD_TOO_LARGE),
        ("echo", b"{not json", ErrorCode.MALFORMED_JSON),
        ("echo", b"", ErrorCode.MALFORMED_JSON),
        ("echo", b"\xff\xfe\x00garbage", ErrorCode.MALFORMED_JSON),
        ("echo", b'{"params": NaN}', ErrorCode.MALFORMED_JSON),
        ("echo", b"[" * 500 + b"]" * 500, ErrorCode.NOT_AN_OBJECT),
        ("echo", b"[" * 1000, ErrorCode.MALFORMED_JSON),
        ("echo", b"[1, 2]", ErrorCode.NOT_AN_OBJECT),
        ("echo", b'"text"', ErrorCode.NOT_AN_OBJECT),
        ("echo", b"null", ErrorCode.NOT_AN_OBJECT),
        ("echo", b'{"params": [1]}', ErrorCode.INVALID_ENVELOPE),
        ("echo", b'{"params": {}, "extra": 1}', ErrorCode.INVALID_ENVELOPE),
        ("echo", b'{"request_id": 5}', ErrorCode.INVALID_ENVELOPE),
        ("echo", b'{"nonce": "short"}', ErrorCode.INVALID_ENVELOPE),
        ("nope", b'{"params": {}}', ErrorCode.UNKNOWN_COMMAND),
        ("echo", b'{"params": {}}', ErrorCode.INVALID_PARAMS),
        ("echo", b'{"params": {"text": 3}}', ErrorCode.INVALID_PARAMS),
        ("echo", b'{"params": {"text": "a", "bogus": 1}}', ErrorCode.INVALID_PARAMS),
        ("boom", b"{}", ErrorCode.INTERNAL),
        ("refuse", b"{}", ErrorCode.CONFLICT),
        ("unserialisable", b"{}", ErrorCode.INTERNAL),
        ("not_a_dict", b"{}", ErrorCode.INTERNAL),
    ],
)
async def test_each_refusal_has_its_code(
    dispatcher: CommandDispatcher,
    recorder: Recorder,
    topics: Topics,
    name: str,
    payload: bytes,
    code: ErrorCode,
) -> None:
    await dispatcher.handle(cmd(topics, name, payload))
    assert len(recorder.sent) == 1
    reply = recorder.last.json
    assert reply["ok"] is False
    assert reply["code"] == code.value
    assert reply["command"] == name
    assert reply["message"]
    assert recorder.last.topic == topics.reply(name)
    assert dispatcher.stats() == {code.value: 1}


async def test_nesting_deeper_than_the_parser_allows_is_malformed(
    make_dispatcher: DispatcherFactory, recorder: Recorder, topics: Topics
) -> None:
    d = register_all(make_dispatcher())  # default 8 MiB limit: size does not stop it
    deep = b'{"params": {"text": ' + b"[" * 200_000 + b"]" * 200_000 + b"}}"
    await d.handle(cmd(topics, "echo", deep))
    assert recorder.last.json["code"] == "malformed_json"


async def test_checks_run_in_order(
    dispatcher: CommandDispatcher, recorder: Recorder, topics: Topics
) -> None:
    # unknown command AND bad envelope: the envelope is checked first
    await dispatcher.handle(cmd(topics, "nope", b'{"bogus": 1}'))
    assert recorder.last.json["code"] == "invalid_envelope"
    # too large AND not JSON: size first
    await dispatcher.handle(cmd(topics, "echo", b"{" * 2000))
    assert recorder.last.json["code"] == "payload_too_large"


async def test_request_id_is_echoed_even_when_refused(
    dispatcher: CommandDispatcher, recorder: Recorder, topics: Topics
) -> None:
    await dispatcher.handle(cmd(topics, "echo", {"request_id": "r9", "params": {"text": 1}}))
    assert recorder.last.json["request_id"] == "r9"
    await dispatcher.handle(cmd(topics, "nope", {"request_id": "r10", "bad": 1}))
    assert recorder.last.json["request_id"] == "r10"
    await dispatcher.handle(cmd(topics, "echo", {"request_id": ["not", "a", "string"]}))
    assert "request_id" not in recorder.last.json


async def test_handler_crash_is_logged_and_node_keeps_serving(
    dispatcher: CommandDispatcher,
    recorder: Recorder,
    topics: Topics,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="node.commands"):
        await dispatcher.handle(cmd(topics, "boom", {}))
    assert any(r.exc_info and "handler bug" in str(r.exc_info[1]) for r in caplog.records)
    assert any(r.levelno == logging.WARNING and "internal_error" in r.getMessage()
               for r in caplog.records)
    await dispatcher.handle(cmd(topics, "echo", {"params": {"text": "still here"}}))
    assert recorder.last.json["data"]["echo"] == "still here"
    assert dispatcher.stats() == {"internal_error": 1, "ok": 1}


async def test_refusals_are_logged_at_warning_with_code(
    dispatcher: CommandDispatcher, topics: Topics, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="node.commands"):
        await dispatcher.handle(cmd(topics, "echo", b"nope"))
    [rec] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "malformed_json" in rec.getMessage()


async def test_response_topic_and_correlation_data(
    dispatcher: CommandDispatcher, recorder: Recorder, topics: Topics
) -> None:
    msg = cmd(
        topics, "echo", {"params": {"text": "x"}},
        response_topic="clients/abc/inbox", correlation_data=b"\x01corr",
    )
    await dispatcher.handle(msg)
    assert recorder.last.topic == "clients/abc/inbox"
    assert recorder.last.correlation_data == b"\x01corr"
    # refusals also go to the response topic
    await dispatcher.handle(
        Message(topics.command("echo"), b"junk", response_topic="clients/abc/inbox",
                correlation_data=b"c2")
    )
    assert (recorder.last.topic, recorder.last.correlation_data) == ("clients/abc/inbox", b"c2")


@pytest.mark.parametrize(
    ("response_topic", "used"),
    [
        ("citywatch/node-1/reply/echo/xyz", True),
        ("citywatch/node-1/availability", False),  # must not overwrite our own state
        ("citywatch/node-1/events/fire", False),
        ("clients/+/inbox", False),
        ("citywatch/other-node/x", True),
    ],
)
async def test_response_topics_inside_our_tree_are_limited_to_reply(
    dispatcher: CommandDispatcher,
    recorder: Recorder,
    topics: Topics,
    response_topic: str,
    used: bool,
) -> None:
    await dispatcher.handle(cmd(topics, "echo", {"params": {"text": "x"}},
                                response_topic=response_topic))
    assert recorder.last.topic == (response_topic if used else topics.reply("echo"))


async def test_message_outside_command_tree(
    dispatcher: CommandDispatcher, recorder: Recorder, topics: Topics
) -> None:
    await dispatcher.handle(Message(topics.sub("cmd/a/b"), b"{}"))
    assert recorder.sent == []  # no name, no response topic: nowhere to answer
    await dispatcher.handle(Message(topics.sub("cmd/a/b"), b"{}", response_topic="c/inbox"))
    assert recorder.last.json["code"] == "unknown_command"


async def test_failing_publish_does_not_escape(topics: Topics) -> None:
    async def broken(topic: str, payload: bytes, corr: bytes | None) -> None:
        raise ConnectionError("broker gone")

    d = CommandDispatcher("node-1", topics, CommandsConfig(), broken, ManualClock())
    d.register("nothing", NoParams, nothing)
    await d.handle(cmd(topics, "nothing", {}))  # must not raise
    assert d.stats() == {"ok": 1}


def test_register_rejects_bad_and_duplicate_names(dispatcher: CommandDispatcher) -> None:
    for bad in ["", "a/b", "a+", "#"]:
        with pytest.raises(ValueError, match="invalid command name"):
            dispatcher.register(bad, NoParams, nothing)
    with pytest.raises(ValueError, match="already registered"):
        dispatcher.register("echo", EchoParams, echo)


def test_required_signature_needs_a_secret(topics: Topics, recorder: Recorder) -> None:
    with pytest.raises(ValueError, match="CITYWATCH__COMMANDS__SECRET"):
        CommandsConfig(require_signature=True)
    # the dispatcher checks again, for a config built without validation
    unchecked = CommandsConfig.model_construct(require_signature=True)
    with pytest.raises(ValueError, match="secret"):
        CommandDispatcher("n", topics, unchecked, recorder, ManualClock())


# --- signed commands -------------------------------------------------------------------------


def _signed(clock: ManualClock, name: str = "echo", **over: Any) -> dict[str, Any]:
    env = signed_envelope(SECRET, name, {"text": "hi"}, ts=clock.time(), request_id="s1")
    env.update(over)
    return env


async def test_signed_command_ok(
    signed: CommandDispatcher, recorder: Recorder, topics: Topics, clock: ManualClock
) -> None:
    await signed.handle(cmd(topics, "echo", _signed(clock)))
    assert recorder.last.json["ok"] is True
    assert recorder.last.json["data"]["signed"] is True


@pytest.mark.parametrize(
    ("over", "code"),
    [
        ({"sig": None, "ts": None, "nonce": None}, ErrorCode.MISSING_SIGNATURE),
        ({"sig": None}, ErrorCode.MISSING_SIGNATURE),
        ({"sig": "ab" * 32}, ErrorCode.BAD_SIGNATURE),
        ({"params": {"text": "tampered"}}, ErrorCode.BAD_SIGNATURE),
    ],
)
async def test_signed_refusals(
    signed: CommandDispatcher,
    recorder: Recorder,
    topics: Topics,
    clock: ManualClock,
    over: dict[str, Any],
    code: ErrorCode,
) -> None:
    env = {k: v for k, v in _signed(clock, **over).items() if v is not None}
    await signed.handle(cmd(topics, "echo", env))
    assert recorder.last.json["code"] == code.value
    assert recorder.last.json["request_id"] == "s1"


async def test_signed_stale_and_replay_have_their_own_codes(
    signed: CommandDispatcher, recorder: Recorder, topics: Topics, clock: ManualClock
) -> None:
    old = _signed(clock)
    clock.advance(31)
    await signed.handle(cmd(topics, "echo", old))
    assert recorder.last.json["code"] == "stale_timestamp"

    fresh = _signed(clock)
    await signed.handle(cmd(topics, "echo", fresh))
    assert recorder.last.json["ok"] is True
    clock.advance(1)
    await signed.handle(cmd(topics, "echo", fresh))
    assert recorder.last.json["code"] == "replay"
    assert signed.stats() == {"stale_timestamp": 1, "ok": 1, "replay": 1}


async def test_signature_is_checked_before_params(
    signed: CommandDispatcher, recorder: Recorder, topics: Topics, clock: ManualClock
) -> None:
    env = signed_envelope(SECRET, "echo", {"text": 5}, ts=clock.time())
    await signed.handle(cmd(topics, "echo", env))
    assert recorder.last.json["code"] == "invalid_params"
    env["sig"] = "00" * 32
    await signed.handle(cmd(topics, "echo", env))
    assert recorder.last.json["code"] == "bad_signature"
