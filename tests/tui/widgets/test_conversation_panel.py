"""The conversation panel on the real chat app (Pilot): Ctrl+F and typing search every chat, Enter opens a hit
at its message, F2 renames, Delete deletes after a confirmation, and a chat being written is never deleted."""

from __future__ import annotations

import threading

from textual.widgets import Input, ListView, Static

from deskseek.chat.history import History
from deskseek.tui.screens.conversation_dialogs import ConfirmDelete, RenameDialog
from deskseek.tui.widgets.conversation_panel import ConversationPanel, PanelRow
from deskseek.tui.widgets.prompt import PromptArea
from deskseek.tui.widgets.turn import AssistantTurn, UserTurn
from tests.fixtures.scripted_engine import r1_reply, scripted_app
from tests.tui.test_app import Clock, until

SIZE = (100, 30)


def stored_chats(history: History) -> dict[str, int]:
    """Three chats; the sea one is long enough that its last prompt is screens below its top."""
    ids = {}
    ids["math"] = history.new_conversation("scripted")
    history.add_message(ids["math"], "user", "What is 6 times 7?")
    history.add_message(ids["math"], "assistant", "42.", reasoning="Six sevens.")
    ids["sea"] = sea = history.new_conversation("scripted")
    for i in range(12):
        history.add_message(sea, "user", f"Tell me fact {i} about the ocean")
        history.add_message(sea, "assistant", "\n\n".join(f"Paragraph {j} of fact {i}." for j in range(4)))
    history.add_message(sea, "user", "나는 바다에 가고 싶다")
    history.add_message(sea, "assistant", "바다는 넓어요.")
    ids["poem"] = history.new_conversation("scripted")
    history.add_message(ids["poem"], "user", "Write a haiku")
    history.add_message(ids["poem"], "assistant", "Old pond, a frog jumps")
    return ids


def make_app(*, hold=None, history=None):
    history = history or History(ephemeral=True)
    ids = stored_chats(history)
    app = scripted_app(lambda messages: r1_reply("Thinking.", "Answer."), hold=hold, clock=Clock(), history=history)
    return app, ids


def rows(app) -> list[PanelRow]:
    return [row for row in app.query_one("#panel-list", ListView).children if isinstance(row, PanelRow)]


def row_texts(app) -> list[str]:
    return [str(row.query_one(Static).render()) for row in rows(app)]


def notes(app) -> list[str]:
    """What app.notify showed (Textual keeps them on the app; it has no public list of them)."""
    return [str(note.message) for note in app._notifications]


async def listed(pilot, app) -> None:
    """Until the panel lists the stored chats (it fills after the app mounts)."""
    await until(pilot, lambda: len(rows(app)) == 3)


async def settle(pilot) -> None:
    await pilot.pause(0.2)


async def test_ctrl_f_searches_and_enter_opens_the_chat_at_the_message():
    app, ids = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session.engine is not None)
        await pilot.press("ctrl+b")  # hidden: Ctrl+F shows it again
        await pilot.press("ctrl+f")
        search = app.query_one("#panel-search", Input)
        assert search.has_focus and app.query_one(ConversationPanel).display
        await pilot.press(*"바다")
        await until(pilot, lambda: len(rows(app)) == 2)
        assert row_texts(app) == ["Tell me fact 0 about the ocean\n바다는 넓어요.",
                                  "Tell me fact 0 about the ocean\n나는 바다에 가고 싶다"]
        body = rows(app)[0].query_one(Static).render()
        assert [body.plain[s.start:s.end] for s in body.spans if getattr(s.style, "reverse", False)] == ["바다"]
        await pilot.press("enter")  # the first (newest) hit: the chat's last message
        await until(pilot, lambda: app.session.conversation_id == ids["sea"])
        view = app.query_one("#conversation")
        await until(pilot, lambda: view.query(".found-turn"))
        assert view.query_one(".found-turn").turn.content == "바다는 넓어요."

        await pilot.press("ctrl+f")
        search.value = ""
        await pilot.press(*"fact 5 about")  # one in the middle of the chat
        await until(pilot, lambda: len(rows(app)) == 1)
        await pilot.press("enter")
        await until(pilot, lambda: [turn.turn.content for turn in view.query(".found-turn")]
                    == ["Tell me fact 5 about the ocean"])  # (none while the chat is mounted again)
        [found] = view.query(".found-turn")
        assert isinstance(found, UserTurn)
        await until(pilot, lambda: view.region.contains_region(found.region))
        assert abs(found.region.y - view.content_region.y) <= 1  # at the top of the view
        for far in (view.query(UserTurn).first(), view.query(AssistantTurn).last()):
            assert not view.region.overlaps(far.region)  # neither the chat's top nor its end


async def test_down_goes_into_the_hits_and_enter_there_opens_that_one():
    app, ids = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+f", *"ocean")
        await until(pilot, lambda: len(rows(app)) == 12)
        await pilot.press("down")
        listing = app.query_one("#panel-list", ListView)
        assert listing.has_focus and listing.index == 0
        await pilot.press("down", "enter")
        target = rows(app)[1].message_id
        await until(pilot, lambda: app.query_one("#conversation").query(".found-turn"))
        found = app.query_one("#conversation").query_one(".found-turn")
        assert found.turn.id == target and found.turn.content == "Tell me fact 10 about the ocean"


async def test_clearing_the_search_lists_the_chats_newest_first_and_nothing_found_says_so():
    app, ids = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await listed(pilot, app)
        assert row_texts(app) == ["Write a haiku", "Tell me fact 0 about the ocean", "What is 6 times 7?"]
        await pilot.press("ctrl+f", *"zebra")
        listing = app.query_one("#panel-list", ListView)
        await until(pilot, lambda: not rows(app) and len(listing.children) == 1 and "nothing found" in str(
            listing.children[0].query_one(Static).render()))
        app.query_one("#panel-search", Input).value = ""
        await until(pilot, lambda: len(rows(app)) == 3)


async def test_f2_renames_the_highlighted_chat():
    app, ids = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await listed(pilot, app)
        app.query_one("#panel-list", ListView).focus()
        await pilot.press("down")  # the sea chat
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(app.screen, RenameDialog))
        assert app.screen.query_one(Input).value == "Tell me fact 0 about the ocean"
        await pilot.press(*"Ocean facts", "enter")  # the old title is selected: typing replaces it
        await until(pilot, lambda: "Ocean facts" in row_texts(app))
        assert app.history.conversation(ids["sea"]).title == "Ocean facts"
        assert row_texts(app)[0] == "Ocean facts"  # a rename is a change: the chat moves to the top

        await pilot.press("f2")
        await until(pilot, lambda: isinstance(app.screen, RenameDialog))
        await pilot.press(*"Never mind", "escape")
        await settle(pilot)
        assert app.history.conversation(ids["sea"]).title == "Ocean facts"


async def test_delete_asks_first_and_cancel_keeps_the_chat():
    app, ids = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await listed(pilot, app)
        app.query_one("#panel-list", ListView).focus()
        await pilot.press("delete")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDelete))
        assert "Write a haiku" in str(app.screen.query_one(".title", Static).render())
        await pilot.press("enter")  # Cancel has the focus
        await settle(pilot)
        await pilot.press("delete")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDelete))
        await pilot.press("escape")
        await settle(pilot)
        assert len(app.history.conversations()) == 3 and len(rows(app)) == 3


async def test_deleting_the_open_chat_confirmed_starts_a_new_one():
    app, ids = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session.engine is not None)
        app.show_conversation(ids["poem"])
        await until(pilot, lambda: app.query(AssistantTurn))
        app.query_one("#panel-list", ListView).focus()
        await pilot.press("delete")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDelete))
        await pilot.click("#delete")
        await until(pilot, lambda: len(rows(app)) == 2)
        assert [c.id for c in app.history.conversations()] == [ids["sea"], ids["math"]]
        assert app.session.conversation_id is None and not app.query("#conversation UserTurn")
        assert app.query_one(PromptArea).has_focus
        await pilot.press("y")  # a second delete with `y`: the sea chat, not open, goes; nothing else changes
        app.query_one("#panel-list", ListView).focus()
        await pilot.press("delete")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDelete))
        await pilot.press("y")
        await until(pilot, lambda: len(rows(app)) == 1)
        assert [c.id for c in app.history.conversations()] == [ids["math"]]


async def test_a_chat_whose_reply_is_being_written_is_not_deleted():
    hold = threading.Event()
    app, ids = make_app(hold=hold)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.session.engine is not None)
            app.query_one(PromptArea).text = "A new question"
            await pilot.press("enter")
            await until(pilot, lambda: app.live is not None)
            await until(pilot, lambda: row_texts(app)[:1] == ["A new question"])
            app.query_one("#panel-list", ListView).focus()
            app.query_one("#panel-list", ListView).index = 0
            await pilot.press("delete")
            await settle(pilot)
            assert not isinstance(app.screen, ConfirmDelete)
            assert any("A reply is being written" in note for note in notes(app))
            assert len(app.history.conversations()) == 4
            hold.set()
            await until(pilot, lambda: app.live is None)
    finally:
        hold.set()


async def test_a_reply_another_deskseek_writes_keeps_its_chat_from_being_deleted(tmp_path):
    """The history refuses (spare_live) for a reply another live deskseek writes; the panel shows its note."""
    path = tmp_path / "history.sqlite3"
    app, ids = make_app(history=History(path))
    with History(path) as other:
        reply = other.start_reply(ids["math"], "r1")  # as a second chat on the same file would
        async with app.run_test(size=SIZE) as pilot:
            await listed(pilot, app)
            listing = app.query_one("#panel-list", ListView)
            listing.focus()
            listing.index = [row.conversation_id for row in rows(app)].index(ids["math"])
            await pilot.press("delete")
            await until(pilot, lambda: isinstance(app.screen, ConfirmDelete))
            await pilot.press("y")
            await settle(pilot)
            assert any("still being written" in note for note in notes(app))
            assert ids["math"] in [c.id for c in app.history.conversations()]
        reply.finish("complete")
