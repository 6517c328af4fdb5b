"""The one parser of integer lists written on the command line (predict's frame indices, cv's folds)."""

from __future__ import annotations

import pytest

from lunet.ranges import parse_int_ranges
from lunet.training.cv import parse_folds
from lunet.training.fit import RunFolderError


def test_ranges_in_the_order_written() -> None:
    assert parse_int_ranges("0,5,10-12") == [0, 5, 10, 11, 12]
    assert parse_int_ranges(" 3 , 1-2,3 ") == [3, 1, 2, 3]  # spaces ignored, duplicates kept
    assert parse_int_ranges("4-2") == [] and parse_int_ranges("") == []
    for bad in ("a", "1-b", "-1", "1.5"):
        with pytest.raises(ValueError):
            parse_int_ranges(bad)


def test_folds_are_sorted_unique_and_in_range() -> None:
    assert parse_folds("3,1-2,3", 10) == [1, 2, 3] and parse_folds([5, 2, 5], 10) == [2, 5]
    assert parse_folds("1-10", 10) == list(range(1, 11))
    with pytest.raises(RunFolderError, match=r"expected numbers in 1\.\.10"):
        parse_folds("0-3", 10)
    with pytest.raises(RunFolderError):
        parse_folds("4-2", 10)
