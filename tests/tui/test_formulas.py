"""R1's TeX in the chat app, on the real engine made to write it: readable on screen, Ctrl+L for the TeX, and
the history, its export and the copied answer keep the model's own text byte for byte."""

from __future__ import annotations

import json
import re

from deskseek.chat.history import History
from deskseek.engines.events import Settings
from deskseek.tui.widgets.turn import AssistantTurn
from tests.cli.test_run_math import ANSWER, TEX_GRAMMAR
from tests.engines.test_local import r1_paths, starter_path  # noqa: F401  (session fixtures)
from tests.tui.test_app import SIZE, app_for, reply, until


def screen_text(app) -> str:
    return re.sub(r"<[^>]+>", "", app.export_screenshot()).replace("&#160;", " ")


async def test_formulas_read_as_unicode_and_ctrl_l_shows_the_tex(r1_paths, home):  # noqa: F811
    history = History()
    app = app_for(r1_paths["new"], history=history, reasoning=True,
                  settings=Settings(temperature=0, max_tokens=200, grammar=TEX_GRAMMAR))
    async with app.run_test(size=SIZE) as pilot:
        turn = await reply(pilot, app, "Three coins?")
        assert turn.answer == ANSWER
        await until(pilot, lambda: not turn.rendering)
        shown = screen_text(app)
        assert "The answer is 3/8, at $5 and $10." in shown and "│ 7 │" in shown and "┌───┐" in shown
        assert "\\frac" not in shown and "\\boxed" not in shown
        await pilot.press("ctrl+l")
        await until(pilot, lambda: not turn.rendering)
        await pilot.pause(0.2)
        raw = screen_text(app)
        assert "The answer is \\(\\frac{3}{8}\\), at $5 and $10." in raw and "\\boxed{7}" in raw and "3/8" not in raw
        await pilot.press("ctrl+y")
        assert app.clipboard == ANSWER
        await pilot.press("ctrl+l")
        await until(pilot, lambda: not turn.rendering)
        await pilot.pause(0.2)
        back = screen_text(app)
        assert "The answer is 3/8, at $5 and $10." in back and "│ 7 │" in back and "\\frac" not in back
        conversation = app.session.conversation_id
    stored = History().conversation(conversation)
    assert stored.messages[-1].content == ANSWER
    assert json.loads(History().export(conversation, "json"))["messages"][-1]["content"] == ANSWER
    assert ANSWER in History().export(conversation, "md")


async def test_a_new_reply_follows_the_mode_the_key_chose(r1_paths):  # noqa: F811
    app = app_for(r1_paths["new"], reasoning=True,
                  settings=Settings(temperature=0, max_tokens=200, grammar=TEX_GRAMMAR))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session.engine is not None)
        await pilot.press("ctrl+l")
        turn = await reply(pilot, app, "Three coins?")
        await until(pilot, lambda: not turn.rendering)
        assert "\\boxed{7}" in screen_text(app)
        assert all(flow.raw_tex for shown in app.query(AssistantTurn) for flow in shown.flows)
