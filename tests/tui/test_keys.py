"""Help that shows every key (F1, the palette), at any size, and a README keys table that cannot drift from it."""

from __future__ import annotations

import pytest

from deskseek.tui import keys
from deskseek.tui.app import DeskseekApp
from deskseek.tui.screens.help import HelpScreen
from tests.conftest import REPO_ROOT
from tests.fixtures.scripted_engine import r1_reply, scripted_app
from tests.tui.test_app import Clock, chat_flags, until


def test_the_readme_keys_table_is_the_one_the_bindings_make():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    table = keys.readme_table(readme)
    assert table is not None, f"README.md lost its keys table markers ({keys.START} ... {keys.END})"
    assert table == keys.markdown(), "README.md's keys table drifted: run `python -m deskseek.tui.keys --write README.md`"


def test_a_drifted_readme_table_is_told_apart_and_rewritten():
    readme = f"# deskseek\n\n{keys.markdown()}\n\nmore text\n"
    drifted = readme.replace("| Ctrl+R | write the last reply again |\n", "")
    assert keys.readme_table(drifted) != keys.markdown()
    assert keys.rewrite(drifted) == readme
    assert keys.readme_table("no table here") is None
    with pytest.raises(ValueError):
        keys.rewrite("no table here")


def test_every_app_binding_and_its_key_name_is_in_the_rows():
    shown = keys.rows()  # a key may be there twice: Esc stops a reply, and leaves selection mode
    assert DeskseekApp.BINDINGS is keys.APP_BINDINGS
    for binding in keys.APP_BINDINGS:
        assert binding.tooltip and (keys.label(binding.key), binding.tooltip) in shown
    for binding in keys.SELECTION_BINDINGS:
        assert binding.tooltip and (keys.labels(binding.key), binding.tooltip) in shown
    assert [keys.label(k) for k in ("ctrl+r", "escape", "f1", "enter")] == ["Ctrl+R", "Esc", "F1", "Enter"]


def scripted():
    return scripted_app(lambda messages: r1_reply("hm", "ok"), clock=Clock(), name="scripted")


@pytest.mark.parametrize("size", [(100, 30), (160, 50), (40, 24)])
async def test_f1_shows_every_key_at_any_size(size):
    """The box was 0 x 0 (its width from its children, theirs from it): now it takes the screen's width,
    shows one row per key, and scrolls when the screen is too short for them all."""
    app = scripted()
    async with app.run_test(size=size) as pilot:
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.pause(0.1)
        box, table = app.screen.query_one("#help"), app.screen.query_one("#help-keys")
        assert box.region.width >= min(size[0], 60) and box.region.height >= min(size[1], 20)
        assert table.region.width >= 30 and table.virtual_region.height >= len(keys.rows())
        if box.max_scroll_y:  # too short for every row: the rest is a scroll away
            await pilot.press("end")
            await until(pilot, lambda: box.scroll_y == box.max_scroll_y)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_f1_on_the_first_run_screen(home):
    from textual.widgets import OptionList

    from deskseek.chat.history import History
    from deskseek.tui.screens.first_run import FirstRunScreen

    app = DeskseekApp(None, history=History(ephemeral=True), flags=chat_flags(), clock=Clock())
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, FirstRunScreen))
        app.screen.query_one(OptionList).focus()
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.pause(0.1)
        assert app.screen.query_one("#help-keys").region.width >= 30
        await pilot.press("escape")
        assert isinstance(app.screen, FirstRunScreen)


async def test_help_is_in_the_command_palette():
    from textual.command import CommandPalette

    app = scripted()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"help")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), timeout=10)
