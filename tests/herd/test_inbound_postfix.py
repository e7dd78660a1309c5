"""The inbound Postfix for herd load tests: a real MTA that accepts, delivers and is counted."""

from __future__ import annotations

import os
import smtplib
import socket

import pytest

from harness.containers import docker_client, ensure_base_image
from harness.containers.labels import PID
from harness.herd.run.inbound import DOMAIN, InboundCapacity, InboundError, InboundPostfix

pytestmark = pytest.mark.docker


def _send(inbound: InboundPostfix, recipient: str, subject: str) -> None:
    with smtplib.SMTP(inbound.host, inbound.port, timeout=30) as smtp:
        smtp.ehlo("client.mailstorm.test")
        refused = smtp.sendmail(
            "load@client.mailstorm.test",
            [recipient],
            f"From: load@client.mailstorm.test\r\nTo: {recipient}\r\nSubject: {subject}\r\n\r\n"
            "herd test\r\n",
        )
        assert refused == {}


def test_accepts_any_local_part_of_its_domain_and_counts_deliveries() -> None:
    with InboundPostfix(InboundCapacity(process_limit=5, client_limit=3)) as inbound:
        assert inbound.host == "127.0.0.1"
        assert inbound.address == f"127.0.0.1:{inbound.port}"
        assert inbound.delivered_count() == 0

        _send(inbound, f"anyone@{DOMAIN}", "first")
        _send(inbound, f"someone.else@{DOMAIN}", "second")

        assert inbound.wait_delivered(2, timeout=30) == 2
        assert inbound.version.startswith("3.")
        assert inbound.describe()["default_process_limit"] == "5"
        assert any("status=sent" in line for line in inbound.log_lines())


def test_refuses_to_relay_for_other_domains() -> None:
    with InboundPostfix() as inbound, smtplib.SMTP(inbound.host, inbound.port, timeout=30) as smtp:
        smtp.ehlo("client.mailstorm.test")
        smtp.mail("load@client.mailstorm.test")
        code, reply = smtp.rcpt("someone@elsewhere.test")
        assert code == 554, reply
        assert b"Relay access denied" in reply


def test_per_client_limit_answers_421_above_it() -> None:
    with InboundPostfix(InboundCapacity(process_limit=10, client_limit=2)) as inbound:
        held = [
            socket.create_connection((inbound.host, inbound.port), timeout=10) for _ in range(2)
        ]
        try:
            for sock in held:
                assert sock.makefile("rb").readline().startswith(b"220 ")
            with socket.create_connection((inbound.host, inbound.port), timeout=10) as extra:
                assert extra.makefile("rb").readline().startswith(b"421 ")
        finally:
            for sock in held:
                sock.close()


def test_published_on_loopback_only_and_removed_after_use() -> None:
    inbound = InboundPostfix()
    with inbound:
        container = inbound.container.get_wrapped_container()
        container.reload()
        bindings = container.attrs["NetworkSettings"]["Ports"]["25/tcp"]
        assert {b["HostIp"] for b in bindings} == {"127.0.0.1"}
    with pytest.raises(InboundError, match="not started"):
        inbound.delivered_count()


def test_a_failed_start_removes_its_container() -> None:
    """The base image has no Postfix: the container starts, configuring it fails."""
    engine = docker_client()
    try:
        base = ensure_base_image(engine)
        mine: dict[str, str | list[str] | bool] = {
            "label": [f"{PID}={os.getpid()}"],
            "ancestor": base,
        }
        before = {c.id for c in engine.containers.list(all=True, filters=mine)}
        inbound = InboundPostfix(image=base)
        with pytest.raises(InboundError, match="postconf") as caught:
            inbound.start()
        assert "container output" in "\n".join(caught.value.__notes__)
        assert {c.id for c in engine.containers.list(all=True, filters=mine)} == before
    finally:
        engine.close()
