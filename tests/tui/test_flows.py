"""Every flow a user tried that once crashed or lost a turn, in the real app on the real engine, keys pressed as keys.

(The same flows without Textual are in tests/chat/test_session.py; these prove the keys reach them and the screen
shows what the history holds.)
"""

from __future__ import annotations

import threading
import time

from deskseek.chat.history import History
from deskseek.engines.events import Settings
from deskseek.engines.local import Engine, LoadError
from deskseek.tui.app import DeskseekApp
from deskseek.tui.widgets.prompt import PromptArea
from deskseek.tui.widgets.turn import AssistantTurn, UserTurn
from tests.chat.test_session import LOOPING_TEMPLATE
from tests.engines.test_local import r1_paths, starter_path  # noqa: F401  (session fixtures)
from tests.fixtures import gguf_writers
from tests.tui.test_app import SIZE, Clock, app_for, chat_flags, offer_tiny_on_the_hub, reply, send, until

LONG = Settings(temperature=0, max_tokens=600, ignore_eos=True)


def installed(model, tmp_path) -> None:
    from deskseek.models import imports

    imports.import_model(model, "smol")
    imports.import_model(gguf_writers.tiny_llama(tmp_path / "tiny.gguf"), "tiny")


async def pick(pilot, app, name: str) -> None:
    from textual.widgets import OptionList

    from deskseek.tui.screens.model_picker import ModelPicker

    await pilot.press("ctrl+o")
    await until(pilot, lambda: isinstance(app.screen, ModelPicker))
    options = app.screen.query_one(OptionList)
    ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
    options.highlighted = ids.index(name)
    options.focus()
    await pilot.press("enter")


async def test_ctrl_o_mid_reply_stops_it_and_the_new_model_answers(starter_path, home, tmp_path):  # noqa: F811
    from deskseek.tui import catalog

    installed(starter_path, tmp_path)
    flags = chat_flags("--max-tokens", "600")
    app = DeskseekApp(catalog.request_for(flags, "smol"), history=History(ephemeral=True), flags=flags)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session.engine is not None)
        first = app.session.engine
        await send(pilot, app, "Tell me a very long story about a lighthouse.")
        await until(pilot, lambda: app.turn is not None and len(app.turn.answer) > 20)
        await pick(pilot, app, "tiny")
        await until(pilot, lambda: app.session.model == "tiny" and app.session.engine is not None and app.live is None)
        assert first._model is None  # freed before the new one loaded
        stopped = app.query(AssistantTurn).last()
        assert stopped.has_class("-noted") and stopped.turn.state == "stopped"
        turn = await reply(pilot, app, "Hello")
        assert turn is not stopped and app.session.turns[-1].state in ("complete", "no-answer")
        assert app.request.name == "tiny" and app.is_running


async def test_edit_last_and_copy_answer_work_with_the_prompt_focused(starter_path):  # noqa: F811
    app = app_for(starter_path)
    async with app.run_test(size=SIZE) as pilot:
        first = await reply(pilot, app, "Name a fruit.")
        await reply(pilot, app, "Name a vegetable.")
        prompt = app.query_one(PromptArea)
        assert app.focused is prompt
        await pilot.press("ctrl+y")
        assert app.clipboard == app.query(AssistantTurn).last().answer != ""
        await pilot.press("ctrl+e")
        await pilot.pause(0.1)
        assert prompt.text == "Name a vegetable." and app.focused is prompt
        assert [u.text for u in app.query(UserTurn)] == ["Name a fruit."] and list(app.query(AssistantTurn)) == [first]
        stored = app.history.conversation(app.session.conversation_id).messages
        assert [(m.role, m.content) for m in stored][:1] == [("user", "Name a fruit.")] and len(stored) == 2


async def test_edit_last_after_replies_that_only_thought(r1_paths):  # noqa: F811
    app = app_for(r1_paths["old"], settings=Settings(temperature=0, max_tokens=4, grammar="root ::= [a-z ]+"))
    async with app.run_test(size=SIZE) as pilot:
        for prompt in ("one", "two", "three"):
            await reply(pilot, app, prompt)
        await pilot.press("ctrl+e")
        await pilot.pause(0.1)
        stored = app.history.conversation(app.session.conversation_id).messages
        assert [(m.role, m.content or m.state) for m in stored] == [
            ("user", "one"), ("assistant", "no-answer"), ("user", "two"), ("assistant", "no-answer")]
        assert [u.text for u in app.query(UserTurn)] == ["one", "two"] and len(app.query(AssistantTurn)) == 2
        assert app.query_one(PromptArea).text == "three"


async def test_ctrl_r_on_a_resumed_conversation_replaces_the_reply_on_screen(starter_path, tmp_path):  # noqa: F811
    db = tmp_path / "history.sqlite3"
    app = app_for(starter_path, history=History(db), settings=Settings(temperature=0.9, max_tokens=8))
    async with app.run_test(size=SIZE) as pilot:
        await reply(pilot, app, "Say a word.")
    conversation = app.session.conversation_id
    app.history.close()
    again = DeskseekApp(app.request, history=History(db), resume=conversation, clock=Clock())
    async with again.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: again.session.engine is not None and len(again.query(AssistantTurn)) == 1)
        await pilot.press("ctrl+r")
        await until(pilot, lambda: again.live is None and again.query(AssistantTurn).last().answer)
        await pilot.pause(0.2)
        assert len(again.query(AssistantTurn)) == 1
        stored = again.history.conversation(conversation).messages
        assert [m.role for m in stored] == ["user", "assistant"] and stored[-1].content == again.turn.answer
    again.history.close()


async def test_enter_during_a_reply_keeps_the_typed_text(starter_path):  # noqa: F811
    app = app_for(starter_path, settings=LONG)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session.engine is not None)
        await send(pilot, app, "Tell me a long story.")
        await until(pilot, lambda: app.turn is not None and app.turn.answer)
        await send(pilot, app, "my next question")
        assert app.query_one(PromptArea).text == "my next question"
        assert len(app.query(UserTurn)) == 1
        await pilot.press("escape")
        await until(pilot, lambda: app.live is None)
        app.session.settings = Settings(temperature=0, max_tokens=4)
        await pilot.press("enter")
        await until(pilot, lambda: len(app.query(UserTurn)) == 2 and app.live is None)
        assert app.query_one(PromptArea).text == "" and app.query(UserTurn).last().text == "my next question"


async def test_esc_stops_a_chat_template_that_never_ends(starter_path, tmp_path):  # noqa: F811
    looping = gguf_writers.with_metadata(starter_path, tmp_path / "loop.gguf", chat_template=LOOPING_TEMPLATE)
    app = app_for(looping)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session.engine is not None)
        await send(pilot, app, "hi")
        await pilot.pause(0.5)
        assert app.live is not None  # still rendering the template
        started = time.monotonic()
        await pilot.press("escape")
        await until(pilot, lambda: app.live is None, timeout=5)
        assert time.monotonic() - started < 5 and app.turn.turn.state == "stopped"


async def test_quitting_while_a_model_loads_stops_the_load(starter_path):  # noqa: F811
    """A load slowed to minutes (every progress report waits): Ctrl+Q must end it at the next report."""
    outcome: list[str] = []

    def slow_engine(*args, on_progress, **kwargs):
        def crawl(fraction):
            time.sleep(0.2)
            return on_progress(fraction)

        try:
            engine = Engine(*args, on_progress=crawl, **kwargs)
        except LoadError as err:
            outcome.append(type(err).__name__)
            raise
        outcome.append("loaded")
        return engine

    app = app_for(starter_path)
    app.engine_factory = slow_engine
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "%" in app.query_one("#status").model)  # llama.cpp reports progress
        await pilot.pause(0.5)
        quit_at = time.monotonic()
        await pilot.press("ctrl+q")
    deadline = time.monotonic() + 5
    while not outcome and time.monotonic() < deadline:
        time.sleep(0.05)
    assert outcome == ["LoadCancelled"] and time.monotonic() - quit_at < 5


async def test_quitting_during_a_first_run_pull_stops_it_and_keeps_what_came(hub, home, tmp_path, monkeypatch):
    from textual.widgets import OptionList

    from deskseek.models import pull, store
    from deskseek.tui.screens.first_run import FirstRunScreen
    from tests.models.test_pull import REPO

    tiny = offer_tiny_on_the_hub(hub, home, tmp_path)
    hub.fault(REPO, "Tiny-Q8_0.gguf", "slow", delay=0.5)
    ended: list[str] = []
    real_pull = pull.pull

    def watched(*args, **kwargs):
        try:
            return real_pull(*args, **kwargs)
        except BaseException as err:
            ended.append(type(err).__name__)
            raise

    monkeypatch.setattr(pull, "pull", watched)
    app = DeskseekApp(None, history=History(ephemeral=True), flags=chat_flags(), clock=Clock())
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, FirstRunScreen))
        options = app.screen.query_one(OptionList)
        options.highlighted = [options.get_option_at_index(i).id for i in range(options.option_count)].index("tiny")
        options.focus()
        await pilot.press("enter")
        await until(pilot, lambda: hub.bytes_sent(REPO, "Tiny-Q8_0.gguf") > 0)
        quit_at = time.monotonic()
        await pilot.press("ctrl+q")
    while not ended and time.monotonic() - quit_at < 5:
        time.sleep(0.05)
    assert ended == ["Cancelled"] and store.installed() == []
    kept = list(store.staging_folder("tiny:Q8_0").glob("*.part"))
    assert kept and 0 < kept[0].stat().st_size < tiny.stat().st_size  # resumable by `deskseek pull tiny`




async def test_a_prompt_waiting_for_a_model_that_fails_returns_to_the_prompt(tmp_path):
    """Typed while the model loads: it waits on screen; a second Enter keeps its text; a failed load gives it back."""
    bad = gguf_writers.not_gguf(tmp_path / "bad.gguf")
    release = threading.Event()

    def slow_failure(*args, **kwargs):
        release.wait(30)
        return Engine(*args, **kwargs)  # raises LoadError: not a GGUF

    app = app_for(bad)
    app.engine_factory = slow_failure
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, app, "first question")
        await until(pilot, lambda: app.pending == "first question")
        await send(pilot, app, "second question")
        assert app.query_one(PromptArea).text == "second question"  # refused, kept
        assert [u.text for u in app.query(UserTurn)] == ["first question"]
        release.set()
        await until(pilot, lambda: app.query(".error"))
        await pilot.pause(0.1)
        assert app.pending is None and list(app.query(UserTurn)) == []
        assert app.query_one(PromptArea).text == "first question second question"
        await send(pilot, app, "third")  # no model, none loading: said, and kept
        assert app.query_one(PromptArea).text == "third"
