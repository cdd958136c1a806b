"""QuietCollector: full collections skip what survived the last one; idle time frees what died since."""

from __future__ import annotations

import gc
import weakref

import pytest

from deskseek.tui import quiet_gc
from deskseek.tui.quiet_gc import QuietCollector

pytestmark = pytest.mark.skipif(not quiet_gc.NEEDED, reason="Python 3.14's incremental collector needs no help")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Node:
    """An object in a reference cycle: only the cycle collector can free it."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def collector():
    made = QuietCollector(Clock())
    yield made
    made.stop()
    assert gc.get_freeze_count() == 0  # the process is left as it was found


def test_survivors_of_a_full_collection_are_frozen_and_later_garbage_waits_for_idle(collector):
    collector.start()
    kept = Node()
    alive = weakref.ref(kept)
    gc.collect()  # a full collection: `kept` survives it, so it is frozen
    assert collector.freezes >= 1 and gc.get_freeze_count() > 0
    del kept
    gc.collect()
    assert alive() is not None  # frozen: a later full collection does not even look at it

    assert not collector.tick(busy=True)  # a reply streams: no pause now
    collector.clock.now += quiet_gc.IDLE_S + 1
    assert collector.tick(busy=False) and collector.reclaims == 1
    assert alive() is None  # reclaimed while nobody waited


def test_garbage_made_between_collections_is_collected_as_usual(collector):
    collector.start()
    young = Node()
    alive = weakref.ref(young)
    del young
    gc.collect()
    assert alive() is None


def test_no_reclaim_while_input_is_recent_or_nothing_was_frozen(collector):
    collector.start()
    gc.collect()
    collector.clock.now += quiet_gc.IDLE_S - 0.5
    collector.touch()  # a key press just now
    collector.clock.now += 1.0
    assert not collector.tick(busy=False)
    collector.clock.now += quiet_gc.IDLE_S
    assert collector.tick(busy=False)
    collector.clock.now += 10 * quiet_gc.IDLE_S
    assert not collector.tick(busy=False)  # nothing frozen since: a reclaim would be a pause for nothing


def test_stop_thaws_everything(collector):
    collector.start()
    gc.collect()
    collector.stop()
    assert gc.get_freeze_count() == 0 and collector._after_collection not in gc.callbacks


def test_a_start_after_stop_does_nothing(collector):
    collector.stop()
    collector.start()  # an app's deferred start that runs after it closed
    assert not collector.active and gc.get_freeze_count() == 0


async def test_the_chat_app_freezes_while_it_runs_and_thaws_when_it_closes():
    from tests.fixtures.scripted_engine import r1_reply, scripted_app

    app = scripted_app(lambda messages: r1_reply("Hmm.", "Yes."))
    async with app.run_test() as pilot:
        while not app.quiet_gc.active:
            await pilot.pause(0.02)
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0 and not any(
        getattr(callback, "__self__", None) is app.quiet_gc for callback in gc.callbacks)
