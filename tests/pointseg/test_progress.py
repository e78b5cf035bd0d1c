"""Progress observers: what a watcher on the same thread sees, cancelling, and other threads left alone."""

from __future__ import annotations

import threading

import pytest

from pointseg.progress import Cancelled, observe, progress, set_enabled


@pytest.fixture(autouse=True)
def _quiet():
    set_enabled(False)
    yield
    set_enabled(True)


def test_observer_sees_every_item_and_the_end():
    seen = []
    with observe(lambda desc, done, total: seen.append((desc, done, total))):
        items = list(progress(["a", "b", "c"], "letters"))
        list(progress(iter(range(2)), "numbers"))  # a generator has no length: total unknown
    assert items == ["a", "b", "c"]
    assert seen == [("letters", 0, 3), ("letters", 1, 3), ("letters", 2, 3), ("letters", 3, 3),
                    ("numbers", 0, None), ("numbers", 1, None), ("numbers", 2, None)]
    assert list(progress([1, 2], "after")) == [1, 2]  # the observer is gone after the block


def test_observer_can_cancel_at_the_next_item():
    done = []

    def stop_after_two(desc, n, total):
        if n == 2:
            raise Cancelled("stop")

    with observe(stop_after_two), pytest.raises(Cancelled):
        for item in progress(range(10), "work"):
            done.append(item)
    assert done == [0, 1]


def test_observer_watches_its_own_thread_only():
    seen = []

    def other_thread():
        list(progress(range(3), "elsewhere"))

    with observe(lambda desc, done, total: seen.append(desc)):
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
        list(progress(range(1), "here"))
    assert set(seen) == {"here"}


def test_bar_methods_still_work_under_an_observer():
    with observe(lambda *args: None):
        bar = progress(range(2), "steps", unit="step")
        for _ in bar:
            bar.set_postfix({"loss": "0.1"}, refresh=False)
