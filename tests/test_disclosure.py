"""Primary and complementary suppression of one published row."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.disclosure import check_threshold, describe, protect_row


def test_small_cells_are_hidden_with_a_complement() -> None:
    row, total = protect_row({"a": 40, "b": 3, "c": 25, "d": 12}, 10)
    assert row == {"a": 40, "b": None, "c": 25, "d": None} and total


def test_everyone_in_one_group_is_hidden() -> None:
    assert protect_row({"a": 20, "b": 0, "c": 0}, 10)[0] == {"a": None, "b": None, "c": None}
    assert protect_row({"a": 20, "b": 0, "c": 15}, 10) == ({"a": 20, "b": None, "c": 15}, True)
    # Everyone in b, and a small a: either b or the total must go, so a stays unknown.
    row, total = protect_row({"a": 0, "b": 10}, 10)
    assert row["a"] is None and (row["b"] is None or not total)


def test_everything_hidden_when_the_total_is_small() -> None:
    assert protect_row({"a": 5, "b": 4}, 10) == ({"a": None, "b": None}, False)


def test_nothing_hidden_when_all_are_large() -> None:
    assert protect_row({"a": 10, "b": 11}, 10) == ({"a": 10, "b": 11}, True)


def test_threshold_cannot_be_lowered() -> None:
    with pytest.raises(ValueError):
        check_threshold(9)
    assert check_threshold(25) == 25
    assert describe(None, 10) == "fewer than 10" and describe(12, 10) == "12"


@given(
    st.dictionaries(st.sampled_from("abcdef"), st.integers(0, 60), min_size=1), st.integers(10, 20)
)
def test_no_hidden_cell_can_be_recovered_from_the_total(
    cells: dict[str, int], threshold: int
) -> None:
    row, total_shown = protect_row(cells, threshold)
    total = sum(cells.values())
    hidden = [name for name, value in row.items() if value is None]
    for name, value in row.items():
        assert value is None or value >= threshold
        assert value is None or value == cells[name]
    if total < threshold:
        assert len(hidden) == len(cells) or not total_shown
    if not total_shown:
        return  # with the total hidden, the shown cells alone pin nothing
    if hidden and len(hidden) < len(cells):
        # total - visible gives only the hidden sum: it must cover two or more cells and be safe,
        # or be empty while the shown cells spread over two groups or more.
        hidden_sum = sum(cells[name] for name in hidden)
        if hidden_sum == 0:
            assert sum(1 for value in row.values() if value) >= 2
        else:
            assert len(hidden) >= 2 and hidden_sum >= threshold
    if len(cells) > 1:  # never "everyone gave the same answer"
        assert total == 0 or total not in row.values()
