"""Attaching a file on the real app (a scripted engine that records what it was sent): `/file PATH` lines and
Ctrl+D's path input put the file's text into the message and the history; every refusal is one line and
gives the prompt back as typed."""

from __future__ import annotations

from deskseek.chat.history import History
from deskseek.tui.screens.attach_file import AttachFileScreen, PathInput
from deskseek.tui.widgets.prompt import PromptArea
from deskseek.tui.widgets.turn import AssistantTurn, UserTurn
from tests.fixtures.scripted_engine import ScriptedEngine, r1_reply
from tests.tui.test_app import Clock, until

CODE = "def add(a, b):\n    return a + b\n"


def recording_app(history=None):
    """The real app on a scripted engine (n_ctx 4096) that keeps every list of messages it was given."""
    from pathlib import Path

    from deskseek.engines.events import Settings
    from deskseek.tui.app import DeskseekApp
    from deskseek.tui.catalog import ModelRequest

    sent: list[list[dict]] = []

    def script(messages):
        sent.append(messages)
        return r1_reply("Reading it.", "It adds.")

    engine = ScriptedEngine(script)
    request = ModelRequest(name="scripted", path=Path("scripted.gguf"), reasoning=True, allow_system=False,
                           settings=Settings())
    app = DeskseekApp(request, history=history or History(ephemeral=True), clock=Clock(),
                      engine_factory=engine.factory)
    return app, sent


def said(app) -> list[str]:
    """The notifications shown so far (Textual keeps them on the app)."""
    return [notification.message for notification in app._notifications]


async def type_and_send(pilot, app, text: str) -> None:
    await until(pilot, lambda: app.session.engine is not None)
    app.query_one(PromptArea).text = text
    await pilot.press("enter")
    await pilot.pause(0.05)


async def test_a_file_line_sends_the_file_as_a_block_and_the_history_keeps_it(tmp_path, home):
    (tmp_path / "add.py").write_text(CODE)
    history = History()
    app, sent = recording_app(history)
    async with app.run_test(size=(100, 30)) as pilot:
        await type_and_send(pilot, app, f"/file {tmp_path}/add.py")
        prompt = app.query_one(PromptArea)
        assert not sent and prompt.text == f"/file {tmp_path}/add.py\n"  # kept: the question comes next
        assert said(app)[-1].startswith(f"Attached {tmp_path}/add.py (32 B, ~11 tokens): write your question")
        prompt.insert("What does it do?")
        await pilot.press("enter")
        await until(pilot, lambda: app.live is None and app.query(AssistantTurn))
        message = f"File: {tmp_path}/add.py\n```python\n{CODE}```\nWhat does it do?"
        assert sent[-1][-1] == {"role": "user", "content": message}
        shown = app.query(UserTurn).last()
        assert shown.text == message  # all of it, for copying; on screen the file is one line
        assert str(shown.render()) == f"[attached {tmp_path}/add.py: python, 2 lines]\nWhat does it do?"
        await pilot.press("ctrl+g", "home", "y", "escape")  # the prompt copied: with the file's text
        assert app.clipboard == message
        await pilot.press("ctrl+r")  # written again: the model reads the file again, from the history's turn
        await until(pilot, lambda: len(sent) == 2 and app.live is None)
        assert sent[-1][-1]["content"] == message
        conversation = app.session.conversation_id
    assert [m.content for m in History().conversation(conversation).messages if m.role == "user"] == [message]


async def test_refusals_are_one_line_and_give_the_prompt_back(tmp_path):
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0\0\x10JFIF\0" + bytes(64))
    (tmp_path / "big.log").write_text("line of a log\n" * 1000)  # 14 KB, ~4,667 tokens: over 4096 - 1024
    (tmp_path / "folder").mkdir()
    app, sent = recording_app()
    async with app.run_test(size=(100, 30)) as pilot:
        cases = {
            f"Look:\n/file {tmp_path}/photo.jpg": f"{tmp_path}/photo.jpg is a binary file: only text files can "
                                                   "be attached",
            f"/file {tmp_path}/big.log\nWhy?": f"{tmp_path}/big.log is 14.00 KB (~4,667 tokens), more than this "
                                                "conversation's context has room for: ~3,072 tokens (9.22 KB)",
            f"/file {tmp_path}/nope.txt\nWhy?": f"no such file: {tmp_path}/nope.txt",
            f"/file {tmp_path}/folder": f"{tmp_path}/folder is a folder: attach a file from it",
        }
        for typed, line in cases.items():
            await type_and_send(pilot, app, typed)
            assert said(app)[-1] == line
            assert app.query_one(PromptArea).text == typed  # given back as typed, to correct
            app.query_one(PromptArea).text = ""
        assert not sent and not app.query(UserTurn)


async def test_ctrl_d_completes_a_path_refuses_a_binary_and_writes_the_file_line(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "projects").mkdir()
    (tmp_path / "projects" / "add.py").write_text(CODE)
    (tmp_path / "projects" / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0")
    app, sent = recording_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.session.engine is not None)
        app.query_one(PromptArea).text = "Explain this"
        await pilot.press("ctrl+d")
        await until(pilot, lambda: isinstance(app.screen, AttachFileScreen))
        path_input = app.screen.query_one(PathInput)
        await pilot.press(*"~/pro")
        await until(pilot, lambda: path_input._suggestion == "~/projects/")
        await pilot.press("tab")
        assert path_input.value == "~/projects/"
        await pilot.press("l")
        await until(pilot, lambda: path_input._suggestion == "~/projects/logo.png")
        await pilot.press("tab", "enter")
        assert isinstance(app.screen, AttachFileScreen)  # refused in the dialog, which stays to correct the path
        assert str(app.screen.query_one("#attach-error").render()) == ("~/projects/logo.png is a binary file: "
                                                                        "only text files can be attached")
        for _ in "logo.png":
            await pilot.press("backspace")
        await pilot.press("a")
        await until(pilot, lambda: path_input._suggestion == "~/projects/add.py")
        await pilot.press("tab", "enter")
        await until(pilot, lambda: not isinstance(app.screen, AttachFileScreen))
        prompt = app.query_one(PromptArea)
        assert prompt.text == "/file ~/projects/add.py\nExplain this" and app.focused is prompt
        await pilot.press("enter")
        await until(pilot, lambda: sent and app.live is None)
        assert sent[-1][-1]["content"] == f"File: ~/projects/add.py\n```python\n{CODE}```\nExplain this"
        assert "Attached ~/projects/add.py (32 B, ~11 tokens)." in said(app)  # what went, said as it goes
        await pilot.press("ctrl+d")
        await until(pilot, lambda: isinstance(app.screen, AttachFileScreen))
        await pilot.press("escape")  # cancelled: nothing added
        await until(pilot, lambda: not isinstance(app.screen, AttachFileScreen))
        assert prompt.text == ""


async def test_file_alone_opens_the_path_input_and_an_edited_message_goes_again_as_it_was(tmp_path):
    (tmp_path / "usage.md").write_text("Attach with:\n\n```\n/file other.txt\n```\n")
    app, sent = recording_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await type_and_send(pilot, app, "/file")
        await until(pilot, lambda: isinstance(app.screen, AttachFileScreen))
        await pilot.press(*f"{tmp_path}/usage.md", "enter")
        await until(pilot, lambda: not isinstance(app.screen, AttachFileScreen))
        prompt = app.query_one(PromptArea)
        assert prompt.text == f"/file {tmp_path}/usage.md\n"
        prompt.insert("Clear?")
        await pilot.press("enter")
        await until(pilot, lambda: sent and app.live is None)
        first = sent[-1][-1]["content"]
        assert "/file other.txt" in first and first.endswith("Clear?")
        await pilot.press("ctrl+e")  # taken back: the prompt holds the file's text, its /file line inside a fence
        await until(pilot, lambda: prompt.text == first)
        await pilot.press("enter")
        await until(pilot, lambda: len(sent) == 2 and app.live is None)
        assert sent[-1][-1]["content"] == first  # no other.txt read (there is none): the same words again
