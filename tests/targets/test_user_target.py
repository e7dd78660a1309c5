"""User target folders: read, checked with errors that name the file and line, registered."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import TargetMetadataError, UnknownTargetError
from harness.targets import (
    chosen_targets,
    load_user_target,
    read_user_target,
    target_class,
    target_names,
)
from harness.targets.exim import DRIVER as EXIM
from harness.targets.exim.config import DebianDefaults
from harness.targets.postfix import DRIVER as POSTFIX

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "postfix-1d"


def folder(tmp_path: Path, toml: str, main_cf: str = "") -> Path:
    (tmp_path / "target.toml").write_text(toml)
    (tmp_path / "main.cf").write_text(main_cf)
    return tmp_path


def test_the_example_extends_postfix_with_a_one_day_lifetime() -> None:
    spec = read_user_target(EXAMPLE)
    assert (spec.name, spec.extends) == ("postfix-1d", "postfix")
    assert dict(spec.settings) == {
        "maximal_queue_lifetime": "1d",
        "bounce_queue_lifetime": "1d",
    }
    driver = load_user_target(EXAMPLE)
    assert target_class("postfix-1d") is driver
    assert issubclass(driver, POSTFIX)
    assert driver.folder() == POSTFIX.folder()  # the same image
    assert driver.user_settings == spec.settings


def test_chosen_targets_are_the_users_alone_unless_bundled_ones_are_named() -> None:
    assert chosen_targets(None, [EXAMPLE]) == ["postfix-1d"]
    assert chosen_targets("postfix", [EXAMPLE]) == ["postfix", "postfix-1d"]
    assert chosen_targets(None, []) == target_names()


def test_main_cf_continuation_lines_and_comments() -> None:
    text = "# comment\nsmtp_tls_security_level =\n  may\n\nmaximal_queue_lifetime = 36h\n"
    settings = POSTFIX.parse_user_config(text, source="main.cf")
    assert settings == {"smtp_tls_security_level": "may", "maximal_queue_lifetime": "36h"}


@pytest.mark.parametrize(
    ("toml", "main_cf", "message"),
    [
        ('name = "postfix"\nextends = "postfix"', "", "is a bundled target's: choose another"),
        ('name = "Mine"\nextends = "postfix"', "", "name must be lower-case"),
        ('name = "mine"\nextends = "qmail"', "", "extends must name a bundled target"),
        ('name = "mine"\nextends = "postfix"\nimage = "x"', "", "unknown key image"),
        ('name = "mine"\nextends = "postfix"', "no equals here\n", "line 1 'no equals here'"),
        (
            'name = "mine"\nextends = "postfix"',
            "maximal_queue_lifetime = one day\n",
            "maximal_queue_lifetime = 'one day': not a Postfix time value",
        ),
        ('name = "mine"\nextends = "postfix"\nconfig = "nope.cf"', "", "nope.cf: cannot read"),
        ('name = "mine"\nextends = [', "", "invalid TOML"),
    ],
)
def test_bad_folders_are_one_clear_error(
    tmp_path: Path, toml: str, main_cf: str, message: str
) -> None:
    with pytest.raises(TargetMetadataError) as raised:
        read_user_target(folder(tmp_path, toml, main_cf))
    assert message in str(raised.value)
    assert str(tmp_path) in str(raised.value)


@pytest.mark.parametrize(
    ("dockerfile", "accepted"),
    [
        ("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN true\n", True),
        ("ARG BASE_IMAGE\nfrom $BASE_IMAGE AS mine\n", True),
        ("FROM debian:trixie\nRUN true\n", False),
        ("ARG BASE_IMAGE\n# FROM ${BASE_IMAGE} in a comment only\nFROM alpine\n", False),
    ],
)
def test_a_user_dockerfile_must_build_on_the_image_it_extends(
    tmp_path: Path, dockerfile: str, accepted: bool
) -> None:
    root = folder(tmp_path, 'name = "mine"\nextends = "postfix"', "")
    (root / "Dockerfile").write_text(dockerfile)
    if accepted:
        assert read_user_target(root).dockerfile == root / "Dockerfile"
    else:
        with pytest.raises(TargetMetadataError, match=r"Dockerfile: must build on the image"):
            read_user_target(root)
    (root / "Dockerfile").unlink()
    assert read_user_target(root).dockerfile is None


def test_a_missing_folder_and_an_unknown_target(tmp_path: Path) -> None:
    with pytest.raises(TargetMetadataError, match="not a folder"):
        read_user_target(tmp_path / "absent")
    with pytest.raises(UnknownTargetError, match="unknown target 'nobody'"):
        target_class("nobody")


EXIM_EXAMPLE = EXAMPLE.parent / "exim-1d"


def test_an_exim_target_brings_its_retry_rule_and_times() -> None:
    spec = read_user_target(EXIM_EXAMPLE)
    assert spec.extends == "exim"
    assert dict(spec.settings) == {"retry_rule": "F,2h,15m; F,1d,1h", "delay_warning": "6h"}
    assert issubclass(load_user_target(EXIM_EXAMPLE), EXIM)
    # The user's rule and warning replace Debian's; the rest stays Debian's.
    debian_config = "begin retry\n* * F,2h,15m; G,16h,1h,1.5; F,4d,6h\n"
    defaults = DebianDefaults.parse(
        main="delay_warning = 1d\nretry_interval_max = 1d\nretry_data_expire = 1w\n"
        "ignore_bounce_errors_after = 2d\ntimeout_frozen_after = 0s\n",
        transport="connect_timeout = 5m\ncommand_timeout = 5m\ndata_timeout = 5m\n"
        "final_timeout = 10m\n",
        default_file="QUEUEINTERVAL='30m'\n",
        config=debian_config,
        overrides=spec.settings,
    )
    seconds = dict(defaults.seconds)
    assert seconds["delay_warning"] == 6 * 3600
    assert seconds["retry[2].cutoff"] == 86400
    assert "retry[3].cutoff" not in seconds
    assert seconds["queue_interval"] == 1800


@pytest.mark.parametrize(
    ("exim_conf", "message"),
    [
        ("retry_rule = G,1d,1h\n", "expected F,<cutoff>,<interval>"),
        ("retry_rule = F,one day,1h\n", "is not an Exim time value"),
        ("system_filter = /etc/x\n", "line 1 'system_filter = /etc/x': expected `name = value`"),
        ("delay_warning = soon\n", "line 1: 'soon' is not an Exim time value"),
    ],
)
def test_bad_exim_fragments_name_the_line(tmp_path: Path, exim_conf: str, message: str) -> None:
    (tmp_path / "target.toml").write_text('name = "mine"\nextends = "exim"\n')
    (tmp_path / "exim.conf").write_text(exim_conf)
    with pytest.raises(TargetMetadataError) as raised:
        read_user_target(tmp_path)
    assert message in str(raised.value)
