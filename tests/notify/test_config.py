"""`config check` on the `notifications` section: every bad setting names its rule and key, and
the secret URLs never appear in what the node prints or replies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from node.cli.main import main
from node.commands.builtin import effective_config
from node.config import ConfigError, load_config

SECRET = "hunter2secret"


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "node.yaml"
    p.write_text(text)
    return p


def check(path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["config", "check", str(path), *args])
    return code, capsys.readouterr().out


RULES = """
notifications:
  targets:
    ops_mail: {}
  rules:
    fall_mail:
      types: [movement]
      labels: [fall]
      targets: [ops_mail]
"""


@pytest.mark.parametrize(
    ("env_url", "key", "expected"),
    [
        (None, "notifications.targets.ops_mail.url (used by rule fall_mail)",
         "CITYWATCH__NOTIFICATIONS__TARGETS__OPS_MAIL__URL"),
        ("foo://x", "notifications.targets.ops_mail.url (used by rule fall_mail)",
         "unknown service scheme `foo://`"),
        ("mailto://", "notifications.targets.ops_mail.url (used by rule fall_mail)",
         "malformed mailto:// URL"),
        ("tgram://" + SECRET, "notifications.targets.ops_mail.url (used by rule fall_mail)",
         "malformed tgram:// URL"),
        ("json://localhost:99999/x", "notifications.targets.ops_mail.url (used by rule fall_mail)",
         "port 99999 out of range"),
        ("nothing-like-a-url", "notifications.targets.ops_mail.url (used by rule fall_mail)",
         "not a URL"),
    ],
)
def test_bad_target_is_named(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    env_url: str | None,
    key: str,
    expected: str,
) -> None:
    if env_url is not None:
        monkeypatch.setenv("CITYWATCH__NOTIFICATIONS__TARGETS__OPS_MAIL__URL", env_url)
    code, out = check(write(tmp_path, RULES), capsys)
    assert code == 2
    line = next(ln for ln in out.splitlines() if key in ln)
    assert expected in line
    assert SECRET not in out


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ("targets: [nobody]", "rules.fall_mail.targets: unknown target(s) ['nobody']"),
        ("title: '{camra}'", "notifications.rules.fall_mail.title: Value error, unknown field"),
        ("title: '{camera.__class__}'", "attribute access is not allowed"),
        ("body: '{score:d}'", "notifications.rules.fall_mail.body: Unknown format code 'd'"),
        ("windows: [{start: '25:00'}]", "notifications.rules.fall_mail.windows.0.start"),
        ("min_score: 2", "notifications.rules.fall_mail.min_score"),
        ("colour: red", "notifications.rules.fall_mail.colour: unknown key"),
    ],
)
def test_bad_rule_is_named(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    snippet: str,
    expected: str,
) -> None:
    monkeypatch.setenv("CITYWATCH__NOTIFICATIONS__TARGETS__OPS_MAIL__URL", "json://127.0.0.1/x")
    if snippet.startswith("targets:"):
        text = RULES.replace("targets: [ops_mail]", snippet)
    else:
        text = RULES + f"      {snippet}\n"
    code, out = check(write(tmp_path, text), capsys)
    assert code == 2, out
    assert expected in out


def test_unknown_time_zone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = check(write(tmp_path, "notifications: {timezone: Mars/Olympus}\n"), capsys)
    assert code == 2
    assert "notifications.timezone" in out and "Mars/Olympus" in out


def test_secret_from_env_is_masked_everywhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"mailtos://ops:{SECRET}@smtp.example.org?to=ops@example.org"
    monkeypatch.setenv("CITYWATCH__NOTIFICATIONS__TARGETS__OPS_MAIL__URL", url)
    path = write(tmp_path, RULES)
    code, out = check(path, capsys, "--show")
    assert code == 0, out
    assert SECRET not in out
    shown = json.loads(out.split("\n", 1)[1])
    assert shown["notifications"]["targets"]["ops_mail"]["url"] == "**********"
    config = load_config(path)
    assert config.notifications.targets["ops_mail"].url is not None
    assert config.notifications.targets["ops_mail"].url.get_secret_value() == url
    assert SECRET not in json.dumps(effective_config(config))  # the `get_config` reply
    assert SECRET not in repr(config)


def test_secret_from_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    secret = tmp_path / "url"
    secret.write_text("json://127.0.0.1:8080/hook\n")
    text = RULES.replace("ops_mail: {}", f"ops_mail: {{url_file: {secret}}}")
    code, out = check(write(tmp_path, text), capsys)
    assert code == 0, out
    secret.write_text("\n")
    code, out = check(write(tmp_path, text), capsys)
    assert code == 2
    assert "notifications.targets.ops_mail.url_file (used by rule fall_mail)" in out
    assert "is empty" in out


def test_url_and_file_together_refused(tmp_path: Path) -> None:
    text = RULES.replace("ops_mail: {}", "ops_mail: {url: 'json://a/b', url_file: /x}")
    with pytest.raises(ConfigError, match="either url or url_file"):
        load_config(write(tmp_path, text))


def test_no_notifications_needs_no_apprise_check(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "node_id: n1\n")).notifications.rules == {}
