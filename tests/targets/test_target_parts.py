"""The parts of the target layer that need no container: routes, time scaling, messages, logs."""

from __future__ import annotations

from datetime import UTC

import pytest

from harness import UnknownTargetError
from harness.containers import DEFAULT_SUITE
from harness.message_ids import id_from_content
from harness.targets import (
    BOUNCE_DOMAIN,
    Hop,
    RouteError,
    RouteTable,
    TimeScaling,
    build_message,
    parse_target_list,
    scale_whole_seconds,
    target_class,
    target_names,
)
from harness.targets.postfix import PostfixTarget


def test_route_table_keeps_fallback_order() -> None:
    table = RouteTable.of({"Libero.test": [("10.0.0.1", 25), Hop("10.0.0.2", 2525)]})
    assert table.hops("libero.TEST") == (Hop("10.0.0.1", 25), Hop("10.0.0.2", 2525))
    assert str(table.hops("libero.test")[1]) == "[10.0.0.2]:2525"


@pytest.mark.parametrize(
    ("routes", "problem"),
    [({"a b": [("1.2.3.4", 25)]}, "not a domain name"), ({"x.test": []}, "names no receiver")],
)
def test_bad_routes_are_refused(routes: dict[str, list[tuple[str, int]]], problem: str) -> None:
    with pytest.raises(RouteError, match=problem):
        RouteTable.of(routes)


def test_a_target_without_a_bounce_route_is_refused() -> None:
    with pytest.raises(RouteError, match="DSNs this MTA sends would be lost"):
        PostfixTarget(RouteTable.to_one(["x.test"], "127.0.0.1", 25))
    PostfixTarget(RouteTable.to_one(["x.test", BOUNCE_DOMAIN], "127.0.0.1", 25))  # no error


def test_whole_second_scaling_reports_its_distortion() -> None:
    exact = scale_whole_seconds("minimal_backoff_time", 300, 60)
    assert (exact.configured_seconds, exact.effective_real_seconds, exact.exact) == (5, 300, True)
    rounded = scale_whole_seconds("maximal_backoff_time", 4000, 60)
    assert rounded.configured_seconds == 67
    assert rounded.distortion == pytest.approx(67 * 60 / 4000)
    assert "whole seconds" in rounded.note
    floored = scale_whole_seconds("smtp_connect_timeout", 30, 60)
    assert (floored.configured_seconds, floored.distortion) == (1, 2.0)
    assert "at least 1s" in floored.note
    off = scale_whole_seconds("delay_warning_time", 0, 60)
    assert (off.configured_seconds, off.exact) == (0, True)


@pytest.mark.parametrize(("time_scale", "configured", "effective"), [(60, 5, 210), (1440, 2, 720)])
def test_postfix_backoff_states_what_qmgr_really_waits(
    time_scale: float, configured: float, effective: float
) -> None:
    """qmgr takes a deferred file back 1 to 2 s before its stamped time (1.5 on average): at
    k = 1440 the 2 s floor waits 12 real minutes, not the nominal 48 (issue 11)."""
    target = PostfixTarget(
        RouteTable.to_one(["x.test", BOUNCE_DOMAIN], "127.0.0.1", 25), time_scale=time_scale
    )
    backoff = target._scaled("minimal_backoff_time", "300s")
    assert backoff.configured_seconds == configured
    assert backoff.effective_real_seconds == effective
    assert "early" in backoff.note
    assert target.retry_uncertainty() == 2 * time_scale


def test_built_message_carries_the_id_and_reaches_its_size() -> None:
    content = build_message(
        "ms" + "a" * 32, "mailstorm+ms@b.test", ["u@r.test"], subject="s", body="b\r\n", size=4096
    )
    assert id_from_content(content) == "ms" + "a" * 32
    assert 4096 <= len(content) < 4096 + 80
    assert content.endswith(b"\r\n")


def test_unknown_target_names_the_known_ones() -> None:
    with pytest.raises(UnknownTargetError, match=r"unknown target 'qmail' \(known: .*postfix"):
        target_class("qmail")
    with pytest.raises(UnknownTargetError, match="unknown target 'nope'"):
        parse_target_list("postfix,nope")
    assert parse_target_list(" Postfix, postfix ") == ["postfix"]


def test_a_target_on_another_suite_is_the_same_driver_and_folder() -> None:
    older = target_class("postfix@bookworm")
    assert issubclass(older, PostfixTarget)
    assert (older.name, older.suite) == ("postfix@bookworm", "bookworm")
    assert PostfixTarget.suite == DEFAULT_SUITE == "trixie"
    assert older.folder() == PostfixTarget.folder()
    assert target_class("Postfix@Bookworm") is older  # one class per pair
    assert target_class("postfix@trixie") is PostfixTarget
    assert parse_target_list("postfix@trixie,postfix") == ["postfix"]
    with pytest.raises(UnknownTargetError, match=r"unknown Debian suite in 'exim@buster'"):
        target_class("exim@buster")
    with pytest.raises(UnknownTargetError, match=r"unknown target 'qmail@bookworm'"):
        target_class("qmail@bookworm")


def test_all_is_every_bundled_target_and_its_other_suites() -> None:
    names = parse_target_list("all")
    for name in target_names():
        assert name in names
        for suite in target_class(name).metadata().other_suites:
            assert f"{name}@{suite}" in names
    assert {"postfix@bookworm", "postfix@forky", "exim@bookworm", "exim@forky"} <= set(names)
    assert parse_target_list("postfix,all").count("postfix") == 1


POSTFIX_LINES = [
    "Nov 24 02:28:30 sender postfix/smtp[135]: C6D3E1741FE: to=<u@defer.test>, "
    "relay=172.17.0.1[172.17.0.1]:46219, delay=0.04, delays=0.02/0.02/0/0, dsn=4.2.0, "
    "status=deferred (host 172.17.0.1[172.17.0.1] said: 450 4.2.0 busy "
    "(in reply to RCPT TO command))",
    "Nov 24 02:28:30 sender postfix/qmgr[113]: C6D3E1741FE: from=<mailstorm+ms1@b.test>, "
    "size=378, nrcpt=2 (queue active)",
    "Nov 24 02:28:29 sender postfix/master[111]: daemon started -- version 3.7.11",
]


def test_postfix_log_lines_parse_into_records() -> None:
    target = PostfixTarget(RouteTable.to_one(["x.test", BOUNCE_DOMAIN], "127.0.0.1", 25))
    deferred, queued, started = (target.parse_log_line(line) for line in POSTFIX_LINES)
    assert deferred is not None
    assert (deferred.process, deferred.queue_id) == ("postfix/smtp", "C6D3E1741FE")
    assert deferred.fields["to"] == "u@defer.test"
    assert deferred.fields["status"] == "deferred"
    assert deferred.fields["dsn"] == "4.2.0"
    assert deferred.fields["reason"].endswith("450 4.2.0 busy (in reply to RCPT TO command)")
    assert deferred.time is not None
    assert (deferred.time.month, deferred.time.day, deferred.time.tzinfo) == (11, 24, UTC)
    assert queued is not None
    assert queued.fields["from"] == "mailstorm+ms1@b.test"
    assert started is not None
    assert started.queue_id is None
    assert target.parse_log_line("not a log line") is None


def test_postfix_states_its_stock_floor_and_give_up_whatever_the_scale() -> None:
    """The configuration the interval and give-up checks judge is Postfix's stock one (5
    minutes, 5 days), while the windows the measurement must keep to are this run's: at
    k = 1440 the give-up comes 2 wall seconds early at most and one 3 s backoff plus one 1 s
    scan late at most."""
    target = PostfixTarget(
        RouteTable.to_one(["x.test", BOUNCE_DOMAIN], "127.0.0.1", 25), time_scale=1440
    )
    defaults = {
        "queue_run_delay": "300s",
        "minimal_backoff_time": "300s",
        "maximal_backoff_time": "4000s",
        "maximal_queue_lifetime": "5d",
    }
    target.scaling = TimeScaling(
        1440, tuple(target._scaled(name, value) for name, value in defaults.items())
    )
    assert target.stock_retry_floor()[0] == 300
    assert target.stock_give_up()[0] == 5 * 86400
    earliest, latest = target.give_up_window()
    assert earliest == (300 - 2) * 1440
    assert latest == (300 + 3) * 1440 + 1440  # 4000 s / 1440 rounds to 3
