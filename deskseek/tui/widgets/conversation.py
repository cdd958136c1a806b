"""The conversation view: the scrolling column of turns, which keeps only what is near the viewport live.

Textual lays out every displayed widget of the screen on each layout pass, and a streamed block is a layout
pass, ten a second. A long reply is a thousand blocks, so without culling each pass takes longer as the
conversation grows, and a key pressed meanwhile waits (over 100 ms at 20,000 tokens). After every layout
or scroll, settled Markdown segments more than two screens from the viewport drop their blocks, and those
within one screen build them again, at the height they had: nothing on screen moves, and scrolling
reaches them before they come into view. (Between one and two screens nothing changes, so a segment
at the edge does not flap.)
"""

from __future__ import annotations

from textual.containers import VerticalScroll

from .markdown_flow import Segment


class ConversationView(VerticalScroll):
    def on_mount(self) -> None:
        self.screen.screen_layout_refresh_signal.subscribe(self, self._after_layout)

    def segments(self) -> list[Segment]:
        """Every Markdown segment of every turn: the flows are kept by the turns, never queried for."""
        found: list[Segment] = []
        for turn in self.children:
            for flow in getattr(turn, "flows", ()):
                found.extend(flow.segments())
        return found

    def _after_layout(self, _screen) -> None:
        viewport = self.content_region
        if not viewport.height or not self.display:
            return
        near = viewport.grow((viewport.height, 0, viewport.height, 0))  # rebuilt within a screen of view
        far = viewport.grow((2 * viewport.height, 0, 2 * viewport.height, 0))  # dropped beyond two
        for segment in self.segments():
            if not segment.settled:
                continue
            region = segment.region
            if not region.height:
                segment.cull()  # not on the screen's map: inside a collapsed or hidden thought
            elif region.overlaps(near):
                segment.uncull()
            elif not region.overlaps(far):
                segment.cull()
