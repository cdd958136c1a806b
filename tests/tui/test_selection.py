"""Copying without the mouse, on the real app (a scripted engine, so the replies hold known code blocks):
Ctrl+K copies the last code block, Ctrl+G's selection mode walks prompts, thoughts, answers and code blocks
and copies each as the model wrote it. `app.clipboard` is what Textual last sent to the terminal (OSC 52)."""

from __future__ import annotations

from textual.widgets.markdown import MarkdownFence

from deskseek.tui.selection import SELECTED, SelectionBar
from deskseek.tui.widgets.prompt import PromptArea
from deskseek.tui.widgets.thinking import ThinkingPane, ThoughtHeader
from deskseek.tui.widgets.turn import AssistantTurn, UserTurn
from tests.fixtures.scripted_engine import r1_reply, scripted_app
from tests.tui.test_app import Clock, until

THOUGHT = "The user wants a loop. A for loop over range(3) prints 0, 1, 2."
FIRST = "Use a loop:\n\n```python\nfor i in range(3):\n    print(i)\n```\n\nThat prints three lines.\n"
SECOND = ("Two ways:\n\n```sh\nseq 0 2\n```\n\nor, in a list item:\n\n- Python:\n\n  ````python\n"
          "  print(*range(3), sep=\"\\n\")\n  ````\n")
LOOP = "for i in range(3):\n    print(i)\n"
PRINT = 'print(*range(3), sep="\\n")\n'


def two_replies():
    answers = iter([FIRST, SECOND])
    return scripted_app(lambda messages: r1_reply(THOUGHT, next(answers)), clock=Clock())


async def ask(pilot, app, text: str) -> None:
    await until(pilot, lambda: app.session.engine is not None)
    app.query_one(PromptArea).text = text
    await pilot.press("enter")
    await until(pilot, lambda: app.live is None and app.query(AssistantTurn))
    await until(pilot, lambda: not app.query(AssistantTurn).last().rendering)
    await pilot.pause(0.1)


def selected(app):
    return [widget for widget in app.query(f".{SELECTED}")]


async def test_ctrl_k_copies_the_last_code_block_and_ctrl_y_the_answer_without_its_thought():
    app = two_replies()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("ctrl+k")
        assert app.clipboard == ""  # nothing yet: said, not copied
        await ask(pilot, app, "Loop to 3?")
        await pilot.press("ctrl+k")
        assert app.clipboard == LOOP
        await ask(pilot, app, "Other ways?")
        await pilot.press("ctrl+k")
        assert app.clipboard == PRINT  # the last block, out of a list item, four-backtick fence and indent gone
        await pilot.press("ctrl+y")
        assert app.clipboard == SECOND and THOUGHT not in app.clipboard


async def test_selection_mode_walks_every_item_and_copies_each_as_written():
    app = two_replies()
    async with app.run_test(size=(100, 30)) as pilot:
        await ask(pilot, app, "Loop to 3?")
        await ask(pilot, app, "Other ways?")
        await pilot.press("ctrl+g")
        bar = app.query_one(SelectionBar)
        assert app.focused is bar
        assert "code block 2 of answer 2 (python, 1 line)" in str(bar.render())  # starts at the newest item
        [fence] = selected(app)
        assert isinstance(fence, MarkdownFence) and fence.code.rstrip() == PRINT.rstrip()  # the block itself
        await pilot.press("y")
        assert app.clipboard == PRINT
        await pilot.press("up")
        assert "code block 1 of answer 2 (sh, 1 line)" in str(bar.render())
        await pilot.press("enter")
        assert app.clipboard == "seq 0 2\n"
        await pilot.press("k")  # vi's up
        assert "answer 2" in str(bar.render())
        assert selected(app) == [app.query(AssistantTurn).last().body]
        await pilot.press("y")
        assert app.clipboard == SECOND
        await pilot.press("up")
        assert "thought 2" in str(bar.render())
        assert selected(app) == [app.query(ThinkingPane).last()]
        await pilot.press("y")
        assert app.clipboard == THOUGHT
        await pilot.press("up")
        assert "prompt 2: Other ways?" in str(bar.render())
        assert selected(app) == [app.query(UserTurn).last()]
        await pilot.press("ctrl+k")  # a prompt without a code block: said, nothing copied
        assert app.clipboard == THOUGHT
        await pilot.press("home")
        assert "prompt 1: Loop to 3?" in str(bar.render())
        conversation = app.query_one("#conversation")
        assert conversation.scroll_y == 0  # scrolled back to the top, where it is
        await pilot.press("j", "j", "j")  # thought 1, answer 1, code block 1 of answer 1
        assert "code block 1 of answer 1 (python, 2 lines)" in str(bar.render())
        await pilot.press("y")
        assert app.clipboard == LOOP
        await pilot.press("j")
        await pilot.press("ctrl+k")  # on prompt 2 -> its code: none; on answer 2 -> its last block
        await pilot.press("j", "j")
        assert "answer 2" in str(bar.render())
        await pilot.press("ctrl+k")
        assert app.clipboard == PRINT
        await pilot.press("escape")
        assert not app.query(SelectionBar) and not selected(app)
        assert app.focused is app.query_one(PromptArea)
        await pilot.press("escape")  # back to the app's Esc: nothing streams, nothing happens
        assert app.live is None


async def test_hidden_thoughts_are_not_items_and_an_empty_chat_has_none():
    app = two_replies()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("ctrl+g")
        assert not app.query(SelectionBar)  # nothing to select: said, no mode
        await ask(pilot, app, "Loop to 3?")
        await pilot.press("ctrl+t")  # thoughts hidden
        await pilot.press("ctrl+g", "home")
        bar = app.query_one(SelectionBar)
        labels = []
        for _ in range(4):
            labels.append(str(bar.render()).split(": ", 1)[1].split(" · ")[0])
            await pilot.press("down")
        assert labels == ["prompt 1: Loop to 3?", "answer 1", "code block 1 of answer 1 (python, 2 lines)",
                          "code block 1 of answer 1 (python, 2 lines)"]
        await pilot.press("f1", "escape")  # a dialog over it: the mode waits
        assert app.focused is bar and app.selection is not None
        await pilot.press("ctrl+t")  # thoughts shown again
        header = app.query_one(ThoughtHeader)
        await until(pilot, lambda: header.display and header.region.height)
        await pilot.click(ThoughtHeader)  # a click elsewhere: the mode ends, the focus stays where it went
        await until(pilot, lambda: app.selection is None)
        assert not app.query(SelectionBar) and not selected(app) and app.focused is header


async def test_the_copy_note_says_where_it_went_and_why_it_may_not_arrive(monkeypatch):
    for name in ("TMUX", "STY", "TERM_PROGRAM", "VTE_VERSION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    app = two_replies()
    async with app.run_test(size=(100, 30)) as pilot:
        await ask(pilot, app, "Loop to 3?")
        await pilot.press("ctrl+k")
        await pilot.pause(0.05)
        note = [n.message for n in app._notifications][-1]
        assert note == "Code block (python, 2 lines) copied to the clipboard (OSC 52)."
        monkeypatch.setenv("TERM", "linux")
        await pilot.press("ctrl+y")
        await pilot.pause(0.05)
        assert [n.message for n in app._notifications][-1] == (
            "The answer sent to the terminal's clipboard (OSC 52); if nothing was copied, your terminal does not "
            "support it: the Linux console has no clipboard: run deskseek in a terminal emulator to copy.")


def test_selection_mode_snapshot(snap_compare):
    """The bar above the prompt says what is selected and the keys; the selected code block is highlighted."""
    from tests.tui.test_snapshots import ask as ask_fixed
    from tests.tui.test_snapshots import make_app

    app = make_app(lambda messages: r1_reply(THOUGHT, FIRST))

    async def run_before(pilot):
        await ask_fixed(pilot, "Loop to 3?")
        await pilot.press("ctrl+g")
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(100, 30), run_before=run_before)


async def test_a_code_block_far_down_a_long_answer_is_found_scrolled_to_and_highlighted():
    """Segments far from the viewport drop their blocks (widgets/conversation.py): selecting a code block at the
    end of a long answer, from the top, must still scroll to that block and highlight it, not the answer."""
    filler = "".join(f"Paragraph {n} says something about loops and ranges, at some length.\n\n" for n in range(150))
    answer = f"```python\nfirst = 1\n```\n\n{filler}```python\nlast = 2\n```\n\n{filler[:400]}"
    app = scripted_app(lambda messages: r1_reply("Short.", answer), clock=Clock())
    async with app.run_test(size=(100, 30)) as pilot:
        await ask(pilot, app, "Long?")
        await pilot.press("ctrl+g", "home", "down", "down", "down")
        bar = app.query_one(SelectionBar)
        assert "code block 1 of answer 1" in str(bar.render())
        conversation = app.query_one("#conversation")
        await pilot.pause(0.2)
        await pilot.press("down")
        assert "code block 2 of answer 1" in str(bar.render())
        await until(pilot, lambda: isinstance(app.highlighted, MarkdownFence))
        assert app.highlighted.code.strip() == "last = 2"
        region, view = app.highlighted.region, conversation.content_region
        assert view.y <= region.y and region.bottom <= view.bottom  # on screen
        await pilot.press("y")
        assert app.clipboard == "last = 2\n"


async def test_the_mode_follows_a_transcript_that_changes_under_it():
    answers = iter([FIRST, SECOND, "No code this time.\n"])
    app = scripted_app(lambda messages: r1_reply(THOUGHT, next(answers)), clock=Clock())
    async with app.run_test(size=(100, 30)) as pilot:
        await ask(pilot, app, "Loop to 3?")
        await ask(pilot, app, "Other ways?")
        await pilot.press("ctrl+g")
        bar = app.query_one(SelectionBar)
        assert str(bar.render()).startswith("Selected 9/9: code block 2 of answer 2")
        await pilot.press("ctrl+r")  # the last reply written again, with no code: its blocks are gone
        await until(pilot, lambda: app.live is None and str(bar.render()).startswith("Selected 7/7: answer 2"))
        assert selected(app) == [app.query(AssistantTurn).last().body] and app.focused is bar
        await pilot.press("y")
        assert app.clipboard == "No code this time.\n"
        await pilot.press("ctrl+n")  # a new chat: nothing left to select, the mode ends
        await until(pilot, lambda: app.selection is None and not app.query(SelectionBar))
        assert not selected(app)
