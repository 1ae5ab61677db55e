"""Work held to a memory cap in a forked child: its answer or its refusal comes back; past the cap it is stopped."""

from __future__ import annotations

import os

import numpy as np
import psutil
import pytest

from harness.errors import SizeupError
from harness.run import bounded


def grow(mib: int) -> int:
    return int(np.ones(mib * 2**20 // 8).sum())  # touched: resident


def refuse() -> None:
    raise SizeupError("no column 'price'")


def test_an_answer_a_refusal_and_a_bug_come_back_from_the_child() -> None:
    assert bounded.call(grow, 256 * 2**20, 16) == 2 * 2**20
    with pytest.raises(SizeupError, match="no column 'price'"):
        bounded.call(refuse, 2**30)
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        bounded.call(lambda: 1 / 0, 2**30)


def test_a_child_past_its_cap_is_stopped_and_reaped() -> None:
    with pytest.raises(bounded.OverCap) as caught:
        bounded.call(grow, 64 * 2**20, 4096)
    assert 64 * 2**20 < caught.value.grown_bytes < 3 * 2**30  # stopped past its cap, before all 4 GiB
    assert not psutil.Process(os.getpid()).children()


def test_an_answer_that_cannot_travel_back_is_a_bug_and_the_child_never_runs_on() -> None:
    with pytest.raises(RuntimeError, match="cannot be sent back"):
        bounded.call(lambda: (lambda: None), 2**30)  # a lambda does not pickle
    assert not psutil.Process(os.getpid()).children()
