"""The app's layout at the sizes people use: a narrow terminal gives the conversation the width."""

from __future__ import annotations

from tests.fixtures.scripted_engine import r1_reply, scripted_app
from tests.tui.test_app import Clock, until


async def test_a_narrow_terminal_hides_the_panel_until_asked_for():
    """At 40 columns the panel kept 27 of them (2-4 Hangul a line): now it hides by itself and Ctrl+B shows
    it there; a wide terminal shows it unless Ctrl+B hid it while wide."""
    app = scripted_app(lambda messages: r1_reply("생각", "답"), clock=Clock(), name="scripted")
    async with app.run_test(size=(40, 24)) as pilot:
        sidebar, conversation = app.query_one("#sidebar"), app.query_one("#conversation")
        await pilot.pause(0.1)
        assert not sidebar.display and conversation.region.width == 40
        await pilot.press("ctrl+b")
        await pilot.pause(0.1)
        assert sidebar.display and sidebar.region.width == 24
        await pilot.press("ctrl+b")
        await pilot.pause(0.1)
        assert not sidebar.display and conversation.region.width == 40

        await pilot.resize_terminal(100, 30)
        await until(pilot, lambda: sidebar.display and sidebar.region.width == 28)
        await pilot.resize_terminal(80, 24)
        await until(pilot, lambda: sidebar.region.width == 22)  # 28% of it: the panel shrinks with the screen
        await pilot.press("ctrl+b")
        await pilot.pause(0.1)
        assert not sidebar.display
        await pilot.resize_terminal(40, 24)
        await pilot.pause(0.1)
        await pilot.resize_terminal(120, 30)
        await pilot.pause(0.1)
        assert not sidebar.display  # hidden by the user: stays hidden whatever the width
