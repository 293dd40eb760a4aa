"""HMAC-SHA256 command signatures: signing for clients, verification for the node.

The signed string is ``"<name>\\n<ts>\\n<nonce>\\n<canonical JSON of params>"`` where

* ``<ts>`` is the envelope's ``ts`` (Unix seconds) written with exactly three decimals
  (Python ``f"{ts:.3f}"``, JavaScript ``ts.toFixed(3)``), so ``1700000000`` and
  ``1700000000.0`` sign the same way whatever JSON number form the client chose;
* canonical JSON is ``json.dumps(params, sort_keys=True, separators=(",", ":"),
  ensure_ascii=False)``.

The signature is the lowercase hex HMAC-SHA256 of the UTF-8 bytes of that string, keyed by the
node's secret. The node accepts ``ts`` within ``window_s`` of its own clock (both directions) and
each nonce once: nonces are remembered for ``2 * window_s``, the longest time a captured message
could still pass the timestamp check.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections import OrderedDict
from typing import Any

from node.clock import Clock
from node.commands.errors import CommandError
from schemas.commands import CommandEnvelope, ErrorCode

DEFAULT_NONCE_CAPACITY = 100_000


def canonical_json(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def signing_string(name: str, ts: float, nonce: str, params: dict[str, Any]) -> str:
    return f"{name}\n{ts:.3f}\n{nonce}\n{canonical_json(params)}"


def _key(secret: str | bytes) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else secret


def sign(secret: str | bytes, name: str, ts: float, nonce: str, params: dict[str, Any]) -> str:
    """Hex HMAC-SHA256 of the signing string; what a client puts in ``sig``."""
    msg = signing_string(name, ts, nonce, params).encode("utf-8")
    return hmac.new(_key(secret), msg, hashlib.sha256).hexdigest()


def signed_envelope(
    secret: str | bytes,
    name: str,
    params: dict[str, Any],
    ts: float,
    request_id: str | None = None,
    nonce: str | None = None,
) -> dict[str, Any]:
    """A complete signed command payload (as a dict, ready for ``json.dumps``)."""
    nonce = nonce or secrets.token_hex(16)
    env: dict[str, Any] = {
        "params": params,
        "ts": ts,
        "nonce": nonce,
        "sig": sign(secret, name, ts, nonce, params),
    }
    if request_id is not None:
        env["request_id"] = request_id
    return env


class NonceCache:
    """Nonces seen recently, with expiry on the injected monotonic clock.

    Bounded: when full of unexpired nonces it refuses new ones (``unavailable``) instead of
    forgetting one early, because forgetting would re-open a replay window. Only holders of the
    secret can fill it (signatures are checked first).
    """

    def __init__(self, clock: Clock, ttl_s: float, capacity: int = DEFAULT_NONCE_CAPACITY) -> None:
        if ttl_s <= 0 or capacity <= 0:
            raise ValueError("NonceCache needs ttl_s > 0 and capacity > 0")
        self._clock = clock
        self._ttl_s = ttl_s
        self._capacity = capacity
        # nonce -> expiry; insertion order == expiry order because the ttl is constant.
        self._expiry: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._expiry)

    def _expire(self, now: float) -> None:
        while self._expiry:
            nonce, until = next(iter(self._expiry.items()))
            if until > now:
                return
            del self._expiry[nonce]

    def check_and_add(self, nonce: str) -> None:
        """Record ``nonce``; raise ``replay`` if it is still remembered."""
        now = self._clock.monotonic()
        self._expire(now)
        if nonce in self._expiry:
            raise CommandError(ErrorCode.REPLAY, "nonce already used")
        if len(self._expiry) >= self._capacity:
            raise CommandError(ErrorCode.UNAVAILABLE, "too many signed commands; retry later")
        self._expiry[nonce] = now + self._ttl_s


class SignatureVerifier:
    """Checks a command envelope's signature, timestamp window and nonce, in that order.

    The signature comes first so an unauthenticated sender learns nothing about our clock or
    nonce cache; the nonce is recorded only for authentic, fresh commands.
    """

    def __init__(
        self,
        secret: str | bytes,
        window_s: float,
        clock: Clock,
        nonce_capacity: int = DEFAULT_NONCE_CAPACITY,
    ) -> None:
        if not secret:
            raise ValueError("signed commands need a non-empty secret")
        self._key = _key(secret)
        self._window_s = window_s
        self._clock = clock
        self.nonces = NonceCache(clock, ttl_s=2 * window_s, capacity=nonce_capacity)

    def verify(self, name: str, env: CommandEnvelope) -> None:
        if env.sig is None or env.ts is None or env.nonce is None:
            missing = [k for k in ("ts", "nonce", "sig") if getattr(env, k) is None]
            raise CommandError(
                ErrorCode.MISSING_SIGNATURE, f"signed commands required; missing {missing}"
            )
        expected = sign(self._key, name, env.ts, env.nonce, env.params)
        # compare_digest on bytes: constant time, and no TypeError on non-ASCII input.
        if not hmac.compare_digest(expected.encode(), env.sig.strip().lower().encode("utf-8")):
            raise CommandError(ErrorCode.BAD_SIGNATURE, "signature does not match")
        skew = env.ts - self._clock.time()
        if not abs(skew) <= self._window_s:  # also refuses NaN
            raise CommandError(
                ErrorCode.STALE_TIMESTAMP,
                f"ts is {skew:+.1f}s from the node's clock (window ±{self._window_s:g}s)",
            )
        self.nonces.check_and_add(env.nonce)
