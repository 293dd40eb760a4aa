"""`notify_test` over the command channel and `citywatch notify test` without a node."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from node.cli.main import main
from node.clock import ManualClock
from node.commands import CommandDispatcher
from node.mqtt.topics import Topics
from node.notify.commands import register_notify_commands
from schemas.config.commands import CommandsConfig
from tests.commands.conftest import Recorder, cmd
from tests.notify.harness import config, running
from tests.notify.servers import SmtpSink, WebhookServer

SECRET = "tok3nSecretValue"


async def reply(
    tmp_path: Path, targets: dict[str, str], params: dict[str, str]
) -> dict[str, object]:
    cfg = config(targets, {"weapon_sms": {"targets": list(targets), "attach": "none"}})
    topics = Topics("citywatch", "n1")
    recorder = Recorder()
    dispatcher = CommandDispatcher("n1", topics, CommandsConfig(), recorder, ManualClock())
    async with running(tmp_path / "o.sqlite", cfg) as (_, notifier):
        register_notify_commands(dispatcher, notifier)
        message = cmd(topics, "notify_test", {"request_id": "r1", "params": params})
        await dispatcher.handle(message)
    return recorder.last.json


async def test_notify_test_to_a_rule_reaches_every_target(
    tmp_path: Path, smtp: SmtpSink, webhook_factory: Callable[..., WebhookServer]
) -> None:
    hook = webhook_factory()
    out = await reply(tmp_path, {"mail": smtp.url(), "hook": hook.url()}, {"rule": "weapon_sms"})
    assert out["ok"] is True, out
    assert out["data"] == {"rule": "weapon_sms", "sent": ["mail", "hook"]}
    assert smtp.messages[0]["Subject"] == "citywatch test notification"
    assert len(hook.ok()) == 1


async def test_notify_test_replies_with_the_service_error_masked(
    tmp_path: Path, webhook_factory: Callable[..., WebhookServer]
) -> None:
    hook = webhook_factory(then=500)
    url = hook.url(f"hook?token={SECRET}").replace("json://", f"json://user:{SECRET}@")
    out = await reply(tmp_path, {"hook": url}, {"target": "hook"})
    assert out["ok"] is False
    assert out["code"] == "notification_failed"
    assert "hook: " in str(out["message"]) and "500" in str(out["message"])
    assert SECRET not in str(out)


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"rule": "nope"}, "not_found"),
        ({"target": "weapon_sms"}, "not_found"),  # a rule is not a target
        ({}, "invalid_params"),
        ({"rule": "weapon_sms", "target": "hook"}, "invalid_params"),
    ],
)
async def test_notify_test_refusals(tmp_path: Path, params: dict[str, str], code: str) -> None:
    out = await reply(tmp_path, {"hook": "json://127.0.0.1:9/x"}, params)
    assert out["ok"] is False
    assert out["code"] == code


def test_cli_sends_without_a_node(
    tmp_path: Path, smtp: SmtpSink, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CITYWATCH__NOTIFICATIONS__TARGETS__MAIL__URL", smtp.url())
    path = tmp_path / "node.yaml"
    path.write_text(
        "notifications:\n  targets: {mail: {}, down: {url: 'json://127.0.0.1:9/x'}}\n"
        "  rules: {fall: {targets: [mail]}}\n"
    )
    assert main(["notify", "test", "fall", "-c", str(path), "-m", "hello"]) == 0
    assert "mail (mailto://127.0.0.1" in capsys.readouterr().out
    body = smtp.messages[0].get_body(("plain",))
    assert body is not None and body.get_content().strip() == "hello"
    assert main(["notify", "test", "down", "-c", str(path)]) == 1
    assert "down (json://127.0.0.1:9/x): FAILED: " in capsys.readouterr().out
    assert main(["notify", "test", "ghost", "-c", str(path)]) == 2
    assert "no rule, group or target named 'ghost'" in capsys.readouterr().out
