"""The settings screen (Ctrl+S) in the app: a pasted system prompt is kept whole, and a conversation's
settings are saved with it, come back with it, and stay out of a new chat."""

from __future__ import annotations

from textual import events
from textual.widgets import Checkbox, Input, TextArea

from deskseek.chat.history import History
from deskseek.engines.events import Settings
from deskseek.tui.app import DeskseekApp
from deskseek.tui.screens.settings import SettingsScreen
from tests.engines.test_local import starter_path  # noqa: F401  (session fixture)
from tests.tui.test_app import SIZE, Clock, app_for, chat_flags, reply, until

# What people paste: many lines, blank ones, indentation, a trailing newline. (Textual's Input kept the first.)
PASTED = "\n".join(["You are a careful assistant for a hardware shop.", "",
                    *[f"  {n}. Rule number {n}: answer in at most {n + 2} sentences." for n in range(1, 40)],
                    "", "End of rules."]) + "\n"


async def open_settings(pilot, app) -> SettingsScreen:
    await pilot.press("ctrl+s")
    await until(pilot, lambda: isinstance(app.screen, SettingsScreen))
    return app.screen


async def test_a_pasted_multi_line_system_prompt_is_kept_whole(starter_path, tmp_path):  # noqa: F811
    app = app_for(starter_path, history=History(tmp_path / "h.sqlite3"))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session.engine is not None)
        screen = await open_settings(pilot, app)
        assert app.focused is screen.query_one("#set-temperature", Input)
        for field in ("top_p", "max_tokens", "think_budget", "think_lang", "system"):  # Tab walks the fields
            await pilot.press("tab")
            assert app.focused is screen.query_one(f"#set-{field}")
        system = screen.query_one("#set-system", TextArea)
        app.post_message(events.Paste(PASTED))  # as the driver posts a terminal's bracketed paste
        await until(pilot, lambda: system.text == PASTED)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not isinstance(app.screen, SettingsScreen))
        assert app.session.system == PASTED and app.session.model_messages()[0]["content"] == PASTED
        await reply(pilot, app, "Hello")
        assert app.history.conversation(app.session.conversation_id).system_prompt == PASTED


async def test_resume_restores_the_conversations_settings_and_ctrl_n_drops_them(starter_path, tmp_path):  # noqa: F811
    db = tmp_path / "h.sqlite3"
    defaults = Settings(temperature=0.7, max_tokens=16)
    app = app_for(starter_path, settings=defaults, history=History(db))
    async with app.run_test(size=SIZE) as pilot:
        await reply(pilot, app, "Hello")
        screen = await open_settings(pilot, app)
        screen.query_one("#set-temperature", Input).value = "0.2"
        screen.query_one("#set-max_tokens", Input).value = "3"
        screen.query_one("#set-think_budget", Input).value = "50"
        assert screen.query_one("#set-think_lang", Checkbox).value  # auto: the default
        screen.query_one("#set-think_lang", Checkbox).value = False
        screen.query_one("#set-system", TextArea).text = "Line one.\nLine two."
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not isinstance(app.screen, SettingsScreen))
    conversation = app.session.conversation_id
    app.history.close()

    chosen = Settings(temperature=0.2, max_tokens=3, think_budget=50, think_lang="any")
    again = DeskseekApp(app.request, history=History(db), resume=conversation, clock=Clock())
    async with again.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: again.session.engine is not None and again.session.conversation_id == conversation)
        await pilot.pause(0.1)  # the model's defaults arrived: the conversation keeps its own
        screen = await open_settings(pilot, again)
        shown = {name: screen.query_one(f"#set-{name}", Input).value for name in ("temperature", "max_tokens",
                                                                                   "think_budget")}
        assert shown == {"temperature": "0.2", "max_tokens": "3", "think_budget": "50"}
        assert screen.query_one("#set-system", TextArea).text == "Line one.\nLine two."
        assert not screen.query_one("#set-think_lang", Checkbox).value
        await pilot.press("escape")
        turn = await reply(pilot, again, "Again")
        assert again.session.settings == chosen and turn.turn.stats["completion_tokens"] <= 3
        await pilot.press("ctrl+n")
        await pilot.pause(0.1)
        assert (again.session.settings, again.session.system) == (defaults, "")
        screen = await open_settings(pilot, again)
        assert screen.query_one("#set-temperature", Input).value == "0.7"
        assert screen.query_one("#set-think_lang", Checkbox).value
        assert screen.query_one("#set-system", TextArea).text == ""
    again.history.close()


def test_the_flags_given_on_the_command_line_are_the_pinned_ones():
    from deskseek.tui.catalog import pinned_settings

    flags = chat_flags("--temperature", "1.5", "--max-tokens", "9", "--system", "Be kind.", "--think-lang", "ANY")
    assert pinned_settings(flags, None) == {"temperature": 1.5, "max_tokens": 9, "system": "Be kind.",
                                            "think_lang": "any"}
    assert pinned_settings(chat_flags(), None) == {} and pinned_settings(None, None) == {}
