"""Versions side by side: cells where one MTA's releases disagree are marked and listed."""

from __future__ import annotations

import dataclasses

from harness.report import render_html, render_markdown
from harness.report.releases import DIFFERS_MARK, release_differences, release_family
from harness.results import Fate, Matrix
from tests.report.builders import fates, replace_case


def with_bookworm_postfix(matrix: Matrix) -> Matrix:
    """`matrix` plus a `postfix@bookworm` column equal to `postfix` (version 3.7.11)."""
    postfix = next(t for t in matrix.targets if t.name == "postfix")
    older = dataclasses.replace(postfix, name="postfix@bookworm", version="3.7.11")
    newer = dataclasses.replace(postfix, version="3.10.5")
    copies = [
        dataclasses.replace(c, target=older.name) for c in matrix.cases if c.target == "postfix"
    ]
    targets = [newer if t.name == "postfix" else t for t in matrix.targets]
    return dataclasses.replace(matrix, targets=(*targets, older), cases=(*matrix.cases, *copies))


def test_family_is_the_name_before_the_suite() -> None:
    assert release_family("postfix@bookworm") == "postfix"
    assert release_family("exim") == "exim"


def test_equal_releases_are_not_listed(matrix: Matrix) -> None:
    both = with_bookworm_postfix(matrix)
    assert release_differences(both) == []
    text = render_markdown(both)
    assert DIFFERS_MARK not in text
    assert "Every release of each MTA gave the same cells." in text


def test_a_changed_fate_marks_both_cells_and_names_the_versions(matrix: Matrix) -> None:
    both = replace_case(
        with_bookworm_postfix(matrix),
        "rcpt-450",
        "postfix@bookworm",
        fates=fates(**{Fate.BOUNCED.value: 1}),
    )
    [difference] = release_differences(both)
    assert (difference.scenario, difference.family) == ("rcpt-450", "postfix")
    assert [case.target for case in difference.cases] == ["postfix", "postfix@bookworm"]
    lines = render_markdown(both).splitlines()
    [row] = [line for line in lines if line.startswith("| `rcpt-450` |")]
    cells = [cell.strip() for cell in row.split("|")[2:-1]]
    assert cells[0].endswith(DIFFERS_MARK), row
    assert cells[2].endswith(DIFFERS_MARK), row
    assert not cells[1].endswith(DIFFERS_MARK), row  # exim has one release here
    [listed] = [line for line in lines if line.startswith("- `rcpt-450` (postfix)")]
    assert "**postfix** 3.10.5" in listed
    assert "**postfix@bookworm** 3.7.11" in listed
    assert "Between releases (1)" in render_html(both)


def test_a_random_draw_differs_only_in_which_fates_occur(matrix: Matrix) -> None:
    base = with_bookworm_postfix(matrix)
    scenario = "rcpt-mixed"
    newer = next(c for c in base.cases if (c.scenario, c.target) == (scenario, "postfix"))
    counts = {name: count for name, count in newer.fates.items() if count}
    assert len(counts) > 1, counts  # the builders' case has several fates to redraw
    redrawn = {name: count + 1 for name, count in counts.items()}
    varied = replace_case(base, scenario, "postfix", fates_vary=True)
    varied = replace_case(varied, scenario, "postfix@bookworm", fates_vary=True)
    same_fates = replace_case(varied, scenario, "postfix@bookworm", fates=fates(**redrawn))
    assert release_differences(same_fates) == []
    first = next(iter(counts))
    other_fates = replace_case(
        varied, scenario, "postfix@bookworm", fates=fates(**{first: counts[first]})
    )
    assert [d.scenario for d in release_differences(other_fates)] == [scenario]
