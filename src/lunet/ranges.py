"""Integer lists as written on the command line: ``"0,5,10-12"`` (frame indices of ``lunet predict``,
folds of ``lunet cv``)."""

from __future__ import annotations


def parse_int_ranges(text: str) -> list[int]:
    """``"0,5,10-12"`` → ``[0, 5, 10, 11, 12]``: comma-separated integers and inclusive ``a-b`` ranges, in the
    order written (duplicates kept; spaces ignored; a range with ``b < a`` is empty).

    Raises:
        ValueError: a part that is not an integer or a range of two non-negative integers.
    """
    values: list[int] = []
    for part in text.replace(" ", "").split(","):
        if "-" in part:
            lo, hi = part.split("-", 1)
            values.extend(range(int(lo), int(hi) + 1))
        elif part:
            values.append(int(part))
    return values
