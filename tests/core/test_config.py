from __future__ import annotations

from pathlib import Path

import pytest

from node.cli.main import main
from node.config import ConfigError, load_config, parse_config


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "citywatch.yaml"
    p.write_text(text)
    return p


def test_defaults_are_valid() -> None:
    cfg = parse_config({}, environ={})
    assert cfg.node_id == "citywatch"
    assert cfg.mqtt.host is None  # embedded broker by default
    assert cfg.broker.bind == "127.0.0.1"


def test_data_dir_follows_the_xdg_convention(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    assert parse_config({}, environ={}).data_dir == str(
        tmp_path / "home" / ".local" / "share" / "citywatch"
    )
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert parse_config({}, environ={}).data_dir == str(tmp_path / "xdg" / "citywatch")
    # the image's and the user's overrides still win
    env = {"CITYWATCH__DATA_DIR": "/var/lib/citywatch"}
    assert parse_config({}, environ=env).data_dir == "/var/lib/citywatch"
    assert parse_config({"data_dir": "d"}, environ={}).data_dir == "d"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("node_id: n1\nmqtt:\n  hots: x\n", "mqtt.hots: unknown key"),
        ("node_id: 'bad id'\n", "node_id: String should match pattern"),
        ("mqtt:\n  port: 70000\n", "mqtt.port: Input should be less than or equal to 65535"),
        ("cameras:\n  - name: a\n", "cameras.0.source: Field required"),
        (
            "cameras:\n  - {name: a, source: x}\n  - {name: a, source: y}\n",
            "camera names must be unique",
        ),
        (
            "commands:\n  require_signature: true\n",
            "commands: Value error, require_signature is true but there is no secret: set the "
            "environment variable CITYWATCH__COMMANDS__SECRET (or commands.secret)",
        ),
        ("commands:\n  require_signature: true\n  secret: ''\n", "CITYWATCH__COMMANDS__SECRET"),
        ("- just\n- a list\n", "top level must be a mapping"),
        ("mqtt: [\n", "not valid YAML"),
    ],
)
def test_bad_config_names_key_and_reason(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text), environ={})
    assert expected in str(err.value)


def test_missing_file_is_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.yaml", environ={})


def test_env_overrides_secrets_and_types(tmp_path: Path) -> None:
    path = write(tmp_path, "node_id: n1\nmqtt:\n  host: broker.local\n")
    cfg = load_config(
        path,
        environ={
            "CITYWATCH__MQTT__PASSWORD": "s3cret",
            "CITYWATCH__MQTT__PORT": "8883",
            "CITYWATCH__COMMANDS__REQUIRE_SIGNATURE": "true",
            "CITYWATCH__COMMANDS__SECRET": "hmac-key",
            "UNRELATED": "x",
        },
    )
    assert cfg.mqtt.password is not None
    assert cfg.mqtt.password.get_secret_value() == "s3cret"
    assert cfg.mqtt.port == 8883
    assert cfg.commands.require_signature is True
    assert "s3cret" not in cfg.model_dump_json()
    assert "hmac-key" not in cfg.model_dump_json()


def test_env_override_with_unknown_key_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"mqtt\.pasword: unknown key"):
        load_config(write(tmp_path, "{}\n"), environ={"CITYWATCH__MQTT__PASWORD": "x"})


def test_config_check_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    good = write(tmp_path, "node_id: n1\ncameras:\n  - {name: front, source: video.mp4}\n")
    assert main(["config", "check", str(good)]) == 0
    assert "OK" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("node_id: n1\ncameras:\n  - {name: front, source: v.mp4, lop: true}\n")
    assert main(["config", "check", str(bad)]) == 2
    out = capsys.readouterr().out
    assert "cameras.0.lop: unknown key" in out
    signed = write(tmp_path, "commands: {require_signature: true}\n")
    monkeypatch.delenv("CITYWATCH__COMMANDS__SECRET", raising=False)
    assert main(["config", "check", str(signed)]) == 2
    assert "CITYWATCH__COMMANDS__SECRET" in capsys.readouterr().out
    monkeypatch.setenv("CITYWATCH__COMMANDS__SECRET", "hmac-key")
    assert main(["config", "check", str(signed)]) == 0


def test_config_reference_lists_every_section(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "reference"]) == 0
    out = capsys.readouterr().out
    for key in ("`mqtt.host`", "`cameras[].source`", "`outbox.overflow`", "`commands.secret`"):
        assert key in out
