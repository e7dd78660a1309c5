"""A user target with a Dockerfile of its own: built on the bundled image it extends, and run
(docs/user-targets.md, "Your own additions to the image")."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.pytest_plugin import ReceiverFactory, TargetFactory
from harness.targets import BOUNCE_DOMAIN, RouteTable, load_user_target
from harness.waiting import wait_until
from tests.targets.test_sender_targets import DOMAIN, TIME_SCALE, journal_summary, messages_for

TABLE = "/etc/postfix/smtp_header_checks"


def user_folder(root: Path) -> Path:
    root.mkdir()
    (root / "target.toml").write_text('name = "postfix-own-image"\nextends = "postfix"\n')
    (root / "main.cf").write_text(f"smtp_header_checks = regexp:{TABLE}\n")
    (root / "smtp_header_checks").write_text("/^Subject: tagged/ WARN our table applied\n")
    (root / "Dockerfile").write_text(
        f"ARG BASE_IMAGE\nFROM ${{BASE_IMAGE}}\nCOPY smtp_header_checks {TABLE}\n"
    )
    return root


@pytest.mark.docker
def test_a_user_dockerfile_adds_to_the_bundled_image_and_its_table_is_applied(
    tmp_path: Path,
    receiver_factory: ReceiverFactory,
    target_factory: TargetFactory,
    container_gateway: str,
) -> None:
    driver = load_user_target(user_folder(tmp_path / "own"))
    receiver = receiver_factory(listen=[f"{container_gateway}:0"], time_scale=TIME_SCALE)
    routes = RouteTable.to_one([DOMAIN, BOUNCE_DOMAIN], receiver.host, receiver.port)
    target = target_factory(driver.name, routes, time_scale=TIME_SCALE)
    assert target.exec(["cat", TABLE]).startswith("/^Subject: tagged/")
    sent = target.submit([f"user@{DOMAIN}"], subject="tagged")
    wait_until(
        lambda: messages_for(receiver, sent.message_id),
        timeout=60,
        what="the message delivered",
        seen=lambda: journal_summary(receiver),
    )
    warned = wait_until(
        lambda: [line for line in target.log_lines() if "our table applied" in line],
        timeout=30,
        what="Postfix's smtp client to log the table's WARN",
        seen=lambda: "\n".join(target.log_lines()[-8:]),
    )
    assert "header Subject: tagged" in warned[0], warned
