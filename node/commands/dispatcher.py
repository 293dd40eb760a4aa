"""Route ``cmd/<name>`` messages to handlers and always answer with a ``Reply``.

Checks run in a fixed order, each refusal with its own ``ErrorCode``: size limit, JSON, object,
envelope, command known, signature (when required), params, then the handler. A handler that
raises ``CommandError`` replies with its code; any other exception is logged with its traceback
and answered with ``internal_error``. Nothing here raises into the caller, so one bad payload can
never stop the node.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from node.clock import Clock
from node.commands.errors import CommandError
from node.commands.signing import SignatureVerifier
from node.mqtt.message import Message
from node.mqtt.topics import Topics
from schemas.commands import CommandEnvelope, ErrorCode, Reply
from schemas.config.commands import CommandsConfig

log = logging.getLogger(__name__)

PublishReply = Callable[[str, bytes, bytes | None], Awaitable[None]]
P = TypeVar("P", bound=BaseModel)


@dataclass(frozen=True)
class CommandContext:
    """What a handler may use besides its params."""

    name: str
    request_id: str | None
    node_id: str
    topics: Topics
    signed: bool
    received_at: float
    publish: Callable[[str, bytes], Awaitable[None]]


Handler = Callable[[P, CommandContext], Awaitable[dict[str, Any] | None]]


@dataclass(frozen=True)
class _Entry(Generic[P]):
    params_model: type[P]
    handler: Handler[P]

    async def run(self, raw: dict[str, Any], ctx: CommandContext) -> dict[str, Any] | None:
        try:
            params = self.params_model.model_validate(raw)
        except ValidationError as err:
            raise CommandError(ErrorCode.INVALID_PARAMS, _describe(err)) from None
        return await self.handler(params, ctx)


def _describe(err: ValidationError, limit: int = 5) -> str:
    parts = []
    for e in err.errors()[:limit]:
        where = ".".join(str(p) for p in e["loc"]) or "(root)"
        parts.append(f"{where}: {e['msg']}")
    more = err.error_count() - limit
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


def _reject_constant(name: str) -> Any:
    # NaN/Infinity are not JSON; accepting them would make replies and signatures ambiguous.
    raise ValueError(f"{name} is not valid JSON")


def _parse(payload: bytes) -> Any:
    try:
        return json.loads(payload, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as err:  # UnicodeDecodeError is a ValueError
        raise CommandError(ErrorCode.MALFORMED_JSON, f"payload is not JSON: {err}") from None


def _json_type(obj: Any) -> str:
    names = {list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if obj is None else names.get(type(obj), type(obj).__name__)


@dataclass
class _Request:
    """What is known about a request so far; the reply needs it whichever check fails."""

    request_id: str | None = None


def _salvage_request_id(obj: Any) -> str | None:
    """Echo the request id even when the rest of the envelope is invalid, if it is usable."""
    rid = obj.get("request_id") if isinstance(obj, dict) else None
    return rid if isinstance(rid, str) and len(rid) <= 128 else None


class CommandDispatcher:
    def __init__(
        self,
        node_id: str,
        topics: Topics,
        config: CommandsConfig,
        publish_reply: PublishReply,
        clock: Clock,
    ) -> None:
        self._node_id = node_id
        self._topics = topics
        self._config = config
        self._publish_reply = publish_reply
        self._clock = clock
        self._handlers: dict[str, _Entry[Any]] = {}
        self._aliases: dict[str, str] = {}  # old spelling -> command, answered under its own name
        self._counts: Counter[str] = Counter()
        self._verifier: SignatureVerifier | None = None
        if config.require_signature:
            secret = config.secret.get_secret_value() if config.secret else ""
            if not secret:
                raise ValueError("commands.require_signature is true but commands.secret is empty")
            self._verifier = SignatureVerifier(secret, config.window_s, clock)

    @property
    def topics(self) -> Topics:
        return self._topics

    @property
    def names(self) -> list[str]:
        return sorted(self._handlers)

    def register(self, name: str, params_model: type[P], handler: Handler[P]) -> None:
        if not name or "/" in name or "+" in name or "#" in name:
            raise ValueError(f"invalid command name {name!r}")
        if name in self._handlers:
            raise ValueError(f"command {name!r} is already registered")
        self._handlers[name] = _Entry(params_model, handler)

    def register_alias(self, alias: str, name: str) -> None:
        """Also answer ``alias`` (an old spelling kept for senders of an earlier 1.x) with the
        handler of ``name``; the reply goes to ``reply/<alias>``. Aliases are not listed."""
        if name not in self._handlers:
            raise ValueError(f"cannot alias {alias!r} to unknown command {name!r}")
        if alias in self._handlers or alias in self._aliases:
            raise ValueError(f"command {alias!r} is already registered")
        self._aliases[alias] = name

    def stats(self) -> dict[str, int]:
        """Replies sent so far, per outcome: ``ok`` or an error code."""
        return dict(self._counts)

    async def publish(self, topic: str, payload: bytes) -> None:
        """Publish something other than a reply (e.g. a snapshot) through the same sink."""
        await self._publish_reply(topic, payload, None)

    async def handle(self, message: Message) -> None:
        """Answer one message on ``cmd/<name>``; never raises."""
        name = self._topics.command_name(message.topic)
        req = _Request()
        try:
            try:
                data = await self._dispatch(name, message, req)
                reply = self._reply(name, req.request_id, ok=True, data=data)
            except CommandError as err:
                reply = self._refuse(name, req.request_id, err, message)
            except Exception as err:  # a handler bug must not take the node down
                log.exception("command %r failed", name)
                internal = CommandError(ErrorCode.INTERNAL, f"handler failed: {type(err).__name__}")
                reply = self._refuse(name, req.request_id, internal, message)
            await self._send(name, reply, message)
        except Exception:
            log.exception("could not reply to command on %r", message.topic)

    async def _dispatch(
        self, name: str | None, message: Message, req: _Request
    ) -> dict[str, Any] | None:
        """Run the checks in order, then the handler; refusals raise ``CommandError``."""
        if len(message.payload) > self._config.max_payload_bytes:
            raise CommandError(
                ErrorCode.PAYLOAD_TOO_LARGE,
                f"{len(message.payload)} bytes > limit {self._config.max_payload_bytes}",
            )
        obj = _parse(message.payload)
        if not isinstance(obj, dict):
            raise CommandError(ErrorCode.NOT_AN_OBJECT, f"payload is a JSON {_json_type(obj)}")
        req.request_id = _salvage_request_id(obj)
        try:
            env = CommandEnvelope.model_validate(obj)
        except ValidationError as err:
            raise CommandError(ErrorCode.INVALID_ENVELOPE, _describe(err)) from None
        entry = self._handlers.get(self._aliases.get(name, name)) if name is not None else None
        if name is None or entry is None:
            raise CommandError(ErrorCode.UNKNOWN_COMMAND, f"known commands: {self.names}")
        if self._verifier is not None:
            self._verifier.verify(name, env)
        ctx = CommandContext(
            name=name,
            request_id=env.request_id,
            node_id=self._node_id,
            topics=self._topics,
            signed=self._verifier is not None,
            received_at=self._clock.time(),
            publish=self.publish,
        )
        return await entry.run(env.params, ctx)

    def _reply(
        self,
        name: str | None,
        request_id: str | None,
        ok: bool,
        data: dict[str, Any] | None = None,
        err: CommandError | None = None,
    ) -> Reply:
        return Reply(
            node_id=self._node_id,
            command=name or "",
            request_id=request_id,
            ok=ok,
            code=err.code if err else None,
            message=err.message if err else None,
            data=data,
        )

    def _refuse(
        self, name: str | None, request_id: str | None, err: CommandError, message: Message
    ) -> Reply:
        log.warning(
            "command %r refused: %s (%s) [topic=%s, %d bytes]",
            name,
            err.code.value,
            err.message,
            message.topic,
            len(message.payload),
        )
        return self._reply(name, request_id, ok=False, err=err)

    def reply_topic(self, name: str | None, message: Message) -> str | None:
        """The v5 response topic when it is safe to use, else ``reply/<name>``.

        A response topic inside our own tree but outside ``reply/`` is ignored: otherwise anyone
        allowed to send commands could make the node publish onto its own event or state topics.
        """
        rt = message.response_topic
        if rt and "+" not in rt and "#" not in rt:
            own = rt.startswith(self._topics.base + "/")
            if not own or rt.startswith(self._topics.reply_root):
                return rt
        return self._topics.reply(name) if name else None

    async def _send(self, name: str | None, reply: Reply, message: Message) -> None:
        try:
            payload = reply.model_dump_json(exclude_none=True).encode()
        except Exception:  # handler data that is not JSON-serialisable
            log.exception("reply to %r is not serialisable", name)
            err = CommandError(ErrorCode.INTERNAL, "reply data is not JSON-serialisable")
            reply = self._refuse(name, reply.request_id, err, message)
            payload = reply.model_dump_json(exclude_none=True).encode()
        # counted here, once the outcome is final
        self._counts["ok" if reply.code is None else reply.code.value] += 1
        topic = self.reply_topic(name, message)
        if topic is None:
            log.warning("no reply topic for message on %r; reply dropped", message.topic)
            return
        await self._publish_reply(topic, payload, message.correlation_data)
