"""The conversation view: the scrolling column of turns, which keeps only what is near the viewport live.

Textual lays out every displayed widget of the screen on each layout pass, and a streamed block is a layout
pass, ten a second. A long reply is a thousand blocks, so without culling each pass takes longer as the
conversation grows, and a key pressed meanwhile waits (over 100 ms at 20,000 tokens). After every layout
or scroll, settled Markdown segments more than FAR_SCREENS from the viewport drop their blocks, and those
within NEAR_SCREENS build them again, at the height they had: nothing on screen moves, and scrolling
reaches them before they come into view. (In between nothing changes, so a segment at the edge does not
flap.)
"""

from __future__ import annotations

import time

from textual.containers import VerticalScroll

from deskseek.tui.widgets.markdown_flow import Segment

NEAR_SCREENS = 1
FAR_SCREENS = 2
OFF_MAP = (0, 0)  # a segment's place when it is not laid out at all: inside a collapsed or hidden thought


class ConversationView(VerticalScroll):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.following = False

    def on_mount(self) -> None:
        self.screen.screen_layout_refresh_signal.subscribe(self, self._after_layout)

    def _follow_when_full(self) -> None:
        """Anchored, it follows the end as text comes, within the layout pass itself (a scroll after each
        frame would cost Textual a second pass), until the user scrolls up; back at the end, it follows.
        Only once the turns overflow the view: Textual bottom-aligns a short anchored column."""
        full = self.max_scroll_y > 0
        if full != self.following:
            self.following = full
            self.anchor(full)

    def segments(self) -> list[Segment]:
        """Every Markdown segment of every turn: the flows are kept by the turns, never queried for."""
        found: list[Segment] = []
        for turn in self.children:
            for flow in getattr(turn, "flows", ()):
                found.extend(flow.segments())
        return found

    def _map_is_fresh(self) -> bool:
        """Whether the screen's map of every widget's place is current. After a scroll Textual only maps
        what is visible, and asking where an off-screen widget is would lay out the whole screen again.
        (A private flag of Textual's compositor; were it gone, the answer would be yes: slower, still right.)"""
        compositor = getattr(self.screen, "_compositor", None)
        return not getattr(compositor, "_full_map_invalidated", False)

    def _after_layout(self, _screen) -> None:
        viewport = self.content_region
        if not viewport.height or not self.display:
            return
        self._follow_when_full()
        fresh = self._map_is_fresh()
        near = (self.scroll_y - NEAR_SCREENS * viewport.height, self.scroll_y + (1 + NEAR_SCREENS) * viewport.height)
        far = (self.scroll_y - FAR_SCREENS * viewport.height, self.scroll_y + (1 + FAR_SCREENS) * viewport.height)
        for segment in self.segments():
            if not segment.settled:
                continue
            if fresh:  # note where it is, in the conversation's own coordinates, for the scrolls to come
                region = segment.region
                segment.place = (region.y - viewport.y + round(self.scroll_y), region.height) if region.height else OFF_MAP
            if segment.place is None:
                continue  # settled since the last full layout: not placed yet
            top, height = segment.place
            if not height:
                segment.cull()
            elif top < near[1] and top + height > near[0]:
                segment.uncull()
            elif top >= far[1] or top + height <= far[0]:
                segment.cull()

    def reveal(self, message_id: int, *, patience_s: float = 10.0) -> None:
        """Scroll the turn showing `message_id` to the top and mark it (.found-turn): a search hit opened.

        Only once the stored turns have rendered (or `patience_s` has passed): until then the heights above
        it are not final, and a turn scrolled to too early slides out of view as they grow.
        """
        started = time.monotonic()

        def attempt() -> None:
            target = next((turn for turn in self.children
                           if getattr(getattr(turn, "turn", None), "id", None) == message_id), None)
            if target is None:
                return
            if any(getattr(turn, "rendering", False) for turn in self.children) and (
                    time.monotonic() - started < patience_s):
                self.set_timer(0.05, attempt)
                return
            for turn in self.query(".found-turn"):
                turn.remove_class("found-turn")
            target.add_class("found-turn")
            self.scroll_to_widget(target, top=True, animate=False)

        self.call_after_refresh(attempt)
