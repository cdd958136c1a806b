"""ConversationView: a long reply keeps only the segments near the viewport built, and nothing moves for it."""

from __future__ import annotations

import re

from deskseek.tui.app import DeskseekApp
from deskseek.tui.widgets import conversation as conversation_module
from deskseek.tui.widgets.conversation import ConversationView
from deskseek.tui.widgets.prompt import PromptArea
from tests.fixtures.scripted_engine import r1_reply, scripted_app

SIZE = (80, 30)


def long_answer(sections: int = 100) -> str:
    parts = []
    for n in range(1, sections + 1):
        parts.append(f"Section {n} opens with a paragraph long enough to wrap over a couple of lines "
                     f"of the terminal, so that the reply grows quickly.\n\n"
                     f"- point one of {n}\n- point two of {n}\n\n"
                     f"```python\nprint({n})\n```\n\n")
    return "".join(parts)


def make_app() -> DeskseekApp:
    return scripted_app(lambda messages: r1_reply("A short thought.", long_answer()))


async def settle(pilot, seconds: float = 0.5) -> None:
    app = pilot.app
    for _ in range(400):
        if app.session.engine is not None and app.live is None and (app.turn is None or not app.turn.rendering):
            break
        await pilot.pause(0.05)
    await pilot.pause(seconds)


async def ask(pilot) -> ConversationView:
    await settle(pilot, 0)
    pilot.app.query_one(PromptArea).text = "Write it all out."
    await pilot.press("enter")
    await settle(pilot)
    return pilot.app.query_one(ConversationView)


def screen_text(app) -> str:
    return re.sub(r"<[^>]+>", "", app.export_screenshot()).replace("&#160;", " ")


async def test_far_segments_drop_their_blocks_and_come_back_when_scrolled_to(monkeypatch):
    async with make_app().run_test(size=SIZE) as pilot:
        view = await ask(pilot)
        segments = pilot.app.turn.body.segments()  # the answer's
        assert len(segments) >= 8
        assert view.scroll_y == view.max_scroll_y  # it followed the reply to its end
        culled = [segment for segment in segments if segment.culled]
        assert culled and segments[0].culled and not segments[-1].culled
        assert all(not segment.children for segment in culled)
        height = view.virtual_size.height

        view.scroll_home(animate=False)
        await settle(pilot)
        assert not segments[0].culled and segments[-1].culled
        assert "Section 1 opens" in screen_text(pilot.app)
        assert view.virtual_size.height == height  # the culled segments kept their place


async def test_culling_leaves_the_geometry_as_it_would_be_without_it(monkeypatch):
    heights = []
    for far in (conversation_module.FAR_SCREENS, 10_000):
        monkeypatch.setattr(conversation_module, "FAR_SCREENS", far)
        async with make_app().run_test(size=SIZE) as pilot:
            view = await ask(pilot)
            assert any(segment.culled for segment in view.segments()) == (far < 10_000)
            heights.append(view.virtual_size.height)
            await pilot.resize_terminal(45, 30)  # narrower: culled segments must be measured again
            await settle(pilot)
            view.scroll_home(animate=False)
            await settle(pilot)
            view.scroll_end(animate=False)
            await settle(pilot)
            heights.append(view.virtual_size.height)
    assert heights[0] == heights[2] and heights[1] == heights[3] and heights[1] > heights[0]


async def test_a_short_conversation_stays_at_the_top():
    """Following the end starts only once the turns overflow (an anchored short column sits at the bottom)."""
    app = scripted_app(lambda messages: r1_reply("Hmm.", "Short."))
    async with app.run_test(size=SIZE) as pilot:
        view = await ask(pilot)
        assert not view.following and view.scroll_y == 0
        assert view.children[0].region.y == view.content_region.y + 1  # its top margin
