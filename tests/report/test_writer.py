"""write_reports: the four files in a run directory made by create_run_dir."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.errors import ReportWriteError
from harness.report import create_run_dir, write_reports
from harness.results import Matrix, read_matrix_json


def test_writes_all_four_reports(matrix: Matrix, tmp_path: Path) -> None:
    run_dir = create_run_dir(tmp_path / "reports", "matrix")
    paths = write_reports(matrix, run_dir)
    assert {kind: path.name for kind, path in paths.items()} == {
        "json": "matrix.json",
        "markdown": "matrix.md",
        "html": "matrix.html",
        "junit": "junit.xml",
    }
    assert all(path.parent == run_dir for path in paths.values())
    assert read_matrix_json(paths["json"]) == matrix
    assert json.loads(paths["json"].read_text(encoding="utf-8"))["run_id"] == matrix.run_id
    assert paths["markdown"].read_text(encoding="utf-8").startswith("# mailstorm")
    assert paths["html"].read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert ET.parse(paths["junit"]).getroot().tag == "testsuites"
    assert sorted(p.name for p in run_dir.iterdir()) == sorted(p.name for p in paths.values())


def test_a_missing_directory_is_a_clear_error(matrix: Matrix, tmp_path: Path) -> None:
    with pytest.raises(ReportWriteError, match="not a directory"):
        write_reports(matrix, tmp_path / "absent")


def test_an_unwritable_file_is_a_clear_error(matrix: Matrix, tmp_path: Path) -> None:
    (tmp_path / "matrix.md").mkdir()  # a directory where the file should go
    with pytest.raises(ReportWriteError, match=r"cannot write the report .*matrix\.md"):
        write_reports(matrix, tmp_path)
