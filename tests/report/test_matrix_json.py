"""matrix.json: everything written is read back equal; bad files are refused with a clear error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import MatrixFormatError, SchemaVersionError
from harness.results import (
    Check,
    Connection,
    Level,
    Lookup,
    Matrix,
    Outcome,
    matrix_to_json,
    matrix_to_json_data,
    read_matrix_json,
    write_matrix_json,
)
from tests.report.builders import replace_case


def test_round_trip_is_exact(matrix: Matrix, tmp_path: Path) -> None:
    path = write_matrix_json(matrix, tmp_path / "matrix.json")
    again = read_matrix_json(path)
    assert again == matrix
    assert [case.verdict for case in again.cases] == [case.verdict for case in matrix.cases]
    # and writing it again gives the same bytes: nothing is lost or reordered
    assert matrix_to_json(again) == path.read_text(encoding="utf-8")


def test_mx_evidence_round_trips(matrix: Matrix, tmp_path: Path) -> None:
    """A DNS/MX cell's connections (refused ones too) and lookups are read back equal."""
    case = matrix.cases[0]
    connections = (
        Connection(12.0, "mx1", "ipv6", "fd00:6d73::a", "refused"),
        Connection(12.5, "mx2", "ipv4", "172.30.0.11", "session"),
    )
    lookups = (
        Lookup(10.0, "x.test.", "MX", "NOERROR", ("x.test. 60 IN MX 10 mx1.x.test.",)),
        Lookup(11.0, "mx1.x.test.", "AAAA", None, fault="timeout for mx1.x.test. AAAA from 0ms"),
    )
    changed = replace_case(
        matrix, case.scenario, case.target, connections=connections, lookups=lookups
    )
    again = read_matrix_json(write_matrix_json(changed, tmp_path / "matrix.json"))
    assert again == changed
    assert again.cases[0].connections[0].listener == "mx1.ipv6"
    assert lookups[0].text() == "MX x.test. -> NOERROR 10 mx1.x.test."
    assert lookups[1].text() == "AAAA mx1.x.test. -> no answer"


def test_the_file_is_to_json_data_plus_nothing(matrix: Matrix, tmp_path: Path) -> None:
    data = json.loads(write_matrix_json(matrix, tmp_path / "m.json").read_text(encoding="utf-8"))
    assert data == json.loads(json.dumps(matrix_to_json_data(matrix)))
    assert data["schema_version"] == 1
    assert {case["verdict"] for case in data["cases"]} == {"pass", "deviation", "error"}


def test_unknown_schema_version_is_refused(matrix: Matrix, tmp_path: Path) -> None:
    data = json.loads(matrix_to_json(matrix))
    data["schema_version"] = 99
    path = tmp_path / "matrix.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(SchemaVersionError, match=r"schema_version 99 .* reads \(1\)") as caught:
        read_matrix_json(path)
    assert str(path) in str(caught.value)
    assert isinstance(caught.value, MatrixFormatError)


def test_missing_schema_version_is_not_a_matrix(tmp_path: Path) -> None:
    path = tmp_path / "other.json"
    path.write_text('{"run_id": "x"}', encoding="utf-8")
    with pytest.raises(MatrixFormatError, match=r"not a mailstorm matrix\.json"):
        read_matrix_json(path)


def test_a_wrong_field_is_named_by_its_path(matrix: Matrix, tmp_path: Path) -> None:
    data = json.loads(matrix_to_json(matrix))
    data["cases"][3]["attempts"][0]["t"] = "soon"
    data["cases"][5]["checks"][0]["outcome"] = "maybe"
    path = tmp_path / "matrix.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(MatrixFormatError, match=r"cases\[3\]\.attempts\[0\]\.t: expected a number"):
        read_matrix_json(path)
    data["cases"][3]["attempts"][0]["t"] = 1.5
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(MatrixFormatError, match=r"cases\[5\]\.checks\[0\]\.outcome: 'maybe'"):
        read_matrix_json(path)


def test_not_json_and_missing_file_say_so(tmp_path: Path) -> None:
    path = tmp_path / "matrix.json"
    path.write_text("{nope", encoding="utf-8")
    with pytest.raises(MatrixFormatError, match=r"not JSON: .* line 1"):
        read_matrix_json(path)
    with pytest.raises(MatrixFormatError, match="no such file"):
        read_matrix_json(tmp_path / "absent.json")


def test_a_value_json_cannot_hold_is_refused_when_writing(matrix: Matrix) -> None:
    bad = Check("RFC5321 4.5.4.1", Level.SHOULD, Outcome.INFO, "x", {"give_up_s": float("inf")})
    broken = replace_case(matrix, "rcpt-450", "postfix", checks=(bad,))
    with pytest.raises(MatrixFormatError, match=r"checks\[0\]\.measured\.give_up_s: inf"):
        matrix_to_json(broken)
