"""The Apprise adapter: URL checks, masks and scrubbing of secrets."""

from __future__ import annotations

import pytest

from node.notify.apprise_adapter import AppriseSender, Scrubber, mask_url, url_problem

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
URLS = [
    f"tgram://{TOKEN}/-100123456",
    "mailtos://ops:hunter2pass@smtp.example.org?to=duty@example.org",
    "twilio://AC0123456789abcdef:authTokenValue99@+15551234567/+15557654321",
    "ntfys://alice:ntfyPassw0rd@ntfy.example.org/citywatch-night",
    "json://nodered:webhookPass@10.0.0.2:1880/citywatch",
]
SECRETS = ["AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", "hunter2pass", "authTokenValue99",
           "ntfyPassw0rd", "webhookPass"]


@pytest.mark.parametrize(("url", "secret"), list(zip(URLS, SECRETS, strict=True)))
def test_valid_urls_pass_and_mask(url: str, secret: str) -> None:
    assert url_problem(url) is None
    masked = mask_url(url)
    assert secret not in masked
    assert masked.split("://")[0] == url.split("://")[0]
    text = f"error sending to {url}: {secret} refused"
    scrubbed = Scrubber([url]).scrub(text)
    assert secret not in scrubbed and "****" in scrubbed


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("foo://bar", "unknown service scheme `foo://`"),
        ("mailto://", "malformed mailto:// URL"),
        ("json://", "malformed json:// URL"),
        ("json://host:70000/x", "port 70000 out of range"),
        ("localhost:8080", "not a URL"),
    ],
)
def test_bad_urls_say_why(url: str, expected: str) -> None:
    problem = url_problem(url)
    assert problem is not None and expected in problem


def test_send_to_an_unusable_url_is_a_result_not_an_exception() -> None:
    result = AppriseSender().send("foo://secretvalue", "t", "b")
    assert not result.ok
    assert result.error is not None and "secretvalue" not in result.error


def test_refused_connection_is_reported() -> None:
    result = AppriseSender().send("json://user:pw12345@127.0.0.1:9/x", "t", "b")
    assert not result.ok
    assert result.error and "pw12345" not in result.error
