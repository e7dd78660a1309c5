"""`mailstorm dns` as a separate process: it serves the zone file until SIGTERM; a bad zone file
is one line naming the record."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from dnslib import RCODE, DNSRecord

ZONE = """
[zone]
origin = "libero.test"
records = '''
@    MX  10 mx1
mx1  A   172.30.0.10
'''

[[zone.fault]]
name = "mx1"
answer = "servfail"
"""


def mailstorm(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "harness", *arguments]


def test_serves_the_zone_until_sigterm_and_journals(tmp_path: Path) -> None:
    zone, journal = tmp_path / "zone.toml", tmp_path / "dns.jsonl"
    zone.write_text(ZONE)
    process = subprocess.Popen(
        mailstorm("dns", str(zone), "--journal", str(journal)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        header = process.stdout.readline()
        assert header.startswith("zone libero.test.: 2 records, 1 faults"), header
        listening = process.stdout.readline()
        assert listening.startswith("listening 127.0.0.1:"), listening
        port = int(listening.rsplit(":", 1)[1])
        answer = DNSRecord.parse(DNSRecord.question("libero.test", "MX").send("127.0.0.1", port))
        assert [str(rr.rdata) for rr in answer.rr] == ["10 mx1.libero.test."]
        failed = DNSRecord.parse(
            DNSRecord.question("mx1.libero.test", "A").send("127.0.0.1", port, tcp=True)
        )
        assert failed.header.rcode == RCODE.SERVFAIL
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert out.strip() == "stopped after 2 questions"
    asked = [json.loads(line) for line in journal.read_text().splitlines()]
    assert [(q["name"], q["rtype"], q["rcode"], q["transport"]) for q in asked] == [
        ("libero.test.", "MX", "NOERROR", "udp"),
        ("mx1.libero.test.", "A", "SERVFAIL", "tcp"),
    ]


def test_a_malformed_record_is_one_line_naming_it(tmp_path: Path) -> None:
    zone = tmp_path / "bad.toml"
    zone.write_text('[zone]\norigin = "x.test"\nrecords = """\n@ MX 10 mx1\nmx1 A 300.1.2.3\n"""\n')
    done = subprocess.run(
        mailstorm("dns", str(zone)), capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
    assert done.stderr.startswith(f"mailstorm: error: {zone}: [zone]: records line 2 ")
    assert "'mx1 A 300.1.2.3'" in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_scenario_with_a_bad_zone_record_is_refused_before_any_run(tmp_path: Path) -> None:
    scenario = tmp_path / "mine.toml"
    scenario.write_text(
        '[scenario]\nid = "mine"\nkind = "dns"\nchecks = ["mx-hosts-tried"]\n'
        '[[mx]]\nhost = "mx1"\npreference = 10\n'
        '[zone]\nrecords = "@ MX ten mx1"\n'
    )
    done = subprocess.run(
        mailstorm(
            "matrix", "--scenario", str(scenario), "--no-schedules", "--reports", str(tmp_path)
        ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"{scenario}: [zone]: records line 1 '@ MX ten mx1'" in done.stderr
    assert "Traceback" not in done.stderr
