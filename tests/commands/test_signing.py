"""HMAC signing: the reference string, constant verification order, window and nonce cache."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from node.clock import ManualClock
from node.commands import CommandError, NonceCache, SignatureVerifier, sign, signed_envelope
from node.commands.signing import canonical_json, signing_string
from schemas.commands import CommandEnvelope, ErrorCode

SECRET = "k3y"


def test_signature_matches_hand_built_reference() -> None:
    # Built by hand from the documented recipe, not with the module's helpers.
    params = {"b": [1, 2], "a": "é"}
    text = 'set\n1700000000.500\nnonce-0001\n{"a":"é","b":[1,2]}'
    expected = hmac.new(b"k3y", text.encode("utf-8"), hashlib.sha256).hexdigest()
    assert signing_string("set", 1700000000.5, "nonce-0001", params) == text
    assert sign(SECRET, "set", 1700000000.5, "nonce-0001", params) == expected


def test_canonical_json_ignores_key_order() -> None:
    assert canonical_json({"b": 1, "a": {"d": 2, "c": 3}}) == '{"a":{"c":3,"d":2},"b":1}'


def test_integer_and_float_ts_sign_the_same() -> None:
    assert sign(SECRET, "ping", 1700000000, "n" * 8, {}) == sign(
        SECRET, "ping", 1700000000.0, "n" * 8, {}
    )


def _env(clock: ManualClock, name: str = "ping", **over: object) -> CommandEnvelope:
    raw = signed_envelope(SECRET, name, {"x": 1}, ts=clock.time(), nonce="nonce-abc-123")
    raw.update(over)
    return CommandEnvelope.model_validate(raw)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def verifier(clock: ManualClock) -> SignatureVerifier:
    return SignatureVerifier(SECRET, window_s=30.0, clock=clock)


def _code(verifier: SignatureVerifier, name: str, env: CommandEnvelope) -> ErrorCode | None:
    try:
        verifier.verify(name, env)
    except CommandError as err:
        return err.code
    return None


def test_valid_signature_passes(verifier: SignatureVerifier, clock: ManualClock) -> None:
    assert _code(verifier, "ping", _env(clock)) is None


@pytest.mark.parametrize("missing", ["ts", "nonce", "sig"])
def test_missing_part(verifier: SignatureVerifier, clock: ManualClock, missing: str) -> None:
    assert _code(verifier, "ping", _env(clock, **{missing: None})) is ErrorCode.MISSING_SIGNATURE


@pytest.mark.parametrize(
    ("name", "over"),
    [
        ("ping", {"sig": "0" * 64}),
        ("ping", {"sig": "not hex at all ✗"}),
        ("ping", {"params": {"x": 2}}),  # params changed after signing
        ("ping", {"nonce": "other-nonce-1"}),
        ("get_config", {}),  # signature of another command
    ],
)
def test_bad_signature(
    verifier: SignatureVerifier, clock: ManualClock, name: str, over: dict[str, object]
) -> None:
    assert _code(verifier, name, _env(clock, **over)) is ErrorCode.BAD_SIGNATURE


def test_wrong_secret_is_bad_signature(clock: ManualClock) -> None:
    other = SignatureVerifier("another-key", window_s=30.0, clock=clock)
    assert _code(other, "ping", _env(clock)) is ErrorCode.BAD_SIGNATURE


def test_uppercase_hex_is_accepted(verifier: SignatureVerifier, clock: ManualClock) -> None:
    env = _env(clock)
    assert env.sig is not None
    assert _code(verifier, "ping", env.model_copy(update={"sig": env.sig.upper()})) is None


@pytest.mark.parametrize(("skew", "ok"), [(-30.0, True), (30.0, True), (-30.5, False), (31, False)])
def test_timestamp_window(clock: ManualClock, skew: float, ok: bool) -> None:
    verifier = SignatureVerifier(SECRET, window_s=30.0, clock=clock)
    env = _env(clock)
    clock.advance(-skew)  # message ts is now `skew` seconds from the node's clock
    assert _code(verifier, "ping", env) is (None if ok else ErrorCode.STALE_TIMESTAMP)


def test_replay_is_refused(verifier: SignatureVerifier, clock: ManualClock) -> None:
    env = _env(clock)
    assert _code(verifier, "ping", env) is None
    clock.advance(5)
    assert _code(verifier, "ping", env) is ErrorCode.REPLAY


def test_refused_commands_do_not_burn_the_nonce(
    verifier: SignatureVerifier, clock: ManualClock
) -> None:
    env = _env(clock)
    assert _code(verifier, "ping", env.model_copy(update={"sig": "0" * 64})) is (
        ErrorCode.BAD_SIGNATURE
    )
    assert _code(verifier, "ping", env) is None


def test_nonces_expire_after_twice_the_window(
    verifier: SignatureVerifier, clock: ManualClock
) -> None:
    assert _code(verifier, "ping", _env(clock)) is None
    assert len(verifier.nonces) == 1
    clock.advance(59)
    verifier.nonces.check_and_add("fresh-nonce-1")
    assert len(verifier.nonces) == 2
    clock.advance(2)
    verifier.nonces.check_and_add("fresh-nonce-2")
    assert len(verifier.nonces) == 2  # the first one expired
    # by then the old message is stale anyway, so forgetting its nonce re-opens nothing
    assert _code(verifier, "ping", _env(ManualClock(clock.time() - 61))) is (
        ErrorCode.STALE_TIMESTAMP
    )


def test_full_nonce_cache_fails_closed(clock: ManualClock) -> None:
    cache = NonceCache(clock, ttl_s=10.0, capacity=2)
    cache.check_and_add("a")
    cache.check_and_add("b")
    with pytest.raises(CommandError) as err:
        cache.check_and_add("c")
    assert err.value.code is ErrorCode.UNAVAILABLE
    clock.advance(10)
    cache.check_and_add("c")  # room again once the old ones expire


def test_empty_secret_is_refused(clock: ManualClock) -> None:
    with pytest.raises(ValueError, match="secret"):
        SignatureVerifier("", window_s=30.0, clock=clock)
