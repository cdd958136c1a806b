"""The chat app driven by Textual's Pilot on the real engine: the starter, and SmolLM2 wearing R1's template."""

from __future__ import annotations

from deskseek.chat.history import History
from deskseek.engines.events import Settings
from deskseek.tui.app import DeskseekApp
from deskseek.tui.catalog import ModelRequest
from deskseek.tui.widgets.prompt import PromptArea
from deskseek.tui.widgets.status import StatusBar
from deskseek.tui.widgets.thinking import ThinkingPane, ThoughtHeader
from deskseek.tui.widgets.turn import AssistantTurn, UserTurn
from tests.engines.test_local import R1_GRAMMAR, r1_paths, starter_path  # noqa: F401  (session fixtures)
from tests.fixtures import gguf_writers

SIZE = (100, 32)


class Clock:
    """A clock the test moves, so "Thought for N s" does not depend on the machine's speed."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def app_for(path, *, settings=None, reasoning=None, history=None, clock=None) -> DeskseekApp:
    request = ModelRequest(
        name=path.name, path=path, reasoning=reasoning, allow_system=False,
        settings=settings or Settings(temperature=0, max_tokens=16), n_ctx=1024, n_threads=2,
    )
    return DeskseekApp(request, history=history or History(ephemeral=True), clock=clock or Clock())


async def until(pilot, condition, timeout: float = 60.0) -> None:
    waited = 0.0
    while not condition():
        await pilot.pause(0.05)
        waited += 0.05
        assert waited < timeout, "timed out waiting for the app"


async def send(pilot, app, text: str) -> None:
    app.query_one(PromptArea).text = text
    await pilot.press("enter")


async def reply(pilot, app, text: str) -> AssistantTurn:
    await until(pilot, lambda: app.session.engine is not None)
    await send(pilot, app, text)
    await until(pilot, lambda: app.live is None and app.query(AssistantTurn))
    await pilot.pause(0.2)
    return app.query(AssistantTurn).last()


async def test_starter_answer_streams_without_a_thinking_pane(starter_path):  # noqa: F811
    app = app_for(starter_path)
    async with app.run_test(size=SIZE) as pilot:
        turn = await reply(pilot, app, "What is the capital of France?")
        assert turn.answer.strip() and not app.query(ThinkingPane)
        assert [u.text for u in app.query(UserTurn)] == ["What is the capital of France?"]
        assert "tok/s" in app.query_one(StatusBar).speed


async def test_r1_thought_streams_then_collapses_with_its_label(r1_paths):  # noqa: F811
    clock = Clock()
    settings = Settings(temperature=0, max_tokens=80, grammar=R1_GRAMMAR)
    app = app_for(r1_paths["old"], settings=settings, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session.engine is not None)
        await send(pilot, app, "What is 6 times 7?")
        await until(pilot, lambda: app.live is None)
        await pilot.pause(0.2)
        pane = app.query_one(ThinkingPane)
        turn = app.query_one(AssistantTurn)
        assert pane.text.startswith("Let me think") and turn.answer.startswith("The answer is ")
        assert pane.has_class("-collapsed")
        tokens = app.history.conversation(app.session.conversation_id).messages[-1].stats["reasoning_tokens"]
        assert pane.label() == f"▸ Thought for 0.0 s · {tokens} tokens"  # the test's clock did not move
        pane.query_one(ThoughtHeader).focus()
        await pilot.press("enter")
        assert not pane.has_class("-collapsed") and pane.label().startswith("▾ Thought for")
        await pilot.press("enter")
        assert pane.has_class("-collapsed")
        app.query_one(PromptArea).focus()
        await pilot.press("ctrl+t")
        assert app.has_class("-hide-thoughts") and not pane.visible_now()
        await pilot.press("ctrl+t")
        assert pane.visible_now()


async def test_a_korean_thought_counts_every_token_while_the_answer_streams(r1_paths):  # noqa: F811
    """A token that is half of a Hangul syllable shows no text until the rest comes: counting text pieces
    said "26 tokens" for a thought of 66. The label counts the engine's tokens while the answer streams."""
    grammar = 'root ::= "서울의 인구는 약 구백사십만 명이다. 확인했다." "</think>" "\\n\\n" [a-z ]+'
    settings = Settings(temperature=0, max_tokens=200, grammar=grammar, ignore_eos=True)
    app = app_for(r1_paths["old"], settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session.engine is not None)
        await send(pilot, app, "서울의 인구는?")
        await until(pilot, lambda: app.turn is not None and app.turn.answer)
        pane = app.query_one(ThinkingPane)
        streaming, label = app.live is not None, pane.label()
        await until(pilot, lambda: app.live is None, timeout=300)  # 200 grammar-bound tokens: slow on a busy host
        stored = app.history.conversation(app.session.conversation_id).messages[-1]
    tokens = stored.stats["reasoning_tokens"]
    assert streaming and pane.text.startswith("서울의 인구는") and tokens > len(pane.text)
    assert label.endswith(f"· {tokens} tokens"), label


async def test_thinking_label_counts_time_and_tokens():
    """The pane alone, on a clock the test moves: live spinner and seconds, then the one-line summary."""
    from textual.app import App

    clock = Clock()

    class One(App):
        def compose(self):
            yield ThinkingPane(clock)

    async with One().run_test() as pilot:
        pane = pilot.app.query_one(ThinkingPane)
        pane.append("weighing it up")
        clock.now += 3.25
        assert pane.label().endswith("Thinking… 3.2 s") or pane.label().endswith("Thinking… 3.3 s")
        clock.now += 9.15
        pane.finish(438)
        assert pane.label() == "▸ Thought for 12.4 s · 438 tokens" and pane.has_class("-collapsed")
        clock.now += 100  # time after the thought does not count
        assert pane.label() == "▸ Thought for 12.4 s · 438 tokens"


async def test_reasoning_and_answer_are_stored_apart(r1_paths, tmp_path):  # noqa: F811
    history = History(tmp_path / "history.sqlite3")
    app = app_for(r1_paths["old"], settings=Settings(temperature=0, max_tokens=80, grammar=R1_GRAMMAR),
                  history=history)
    async with app.run_test(size=SIZE) as pilot:
        await reply(pilot, app, "6*7?")
    [stored] = History(tmp_path / "history.sqlite3").conversations()
    user, assistant = History(tmp_path / "history.sqlite3").conversation(stored.id).messages
    assert (user.role, user.content) == ("user", "6*7?")
    assert assistant.reasoning.startswith("Let me think") and assistant.content.startswith("The answer is ")
    assert assistant.state == "complete" and assistant.stats["completion_tokens"] > 0


async def test_escape_stops_mid_thought_and_keeps_it_marked(r1_paths):  # noqa: F811
    settings = Settings(temperature=0, max_tokens=900, grammar="root ::= [a-z ]+")
    app = app_for(r1_paths["old"], settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session.engine is not None)
        await send(pilot, app, "Think.")
        await until(pilot, lambda: app.query(ThinkingPane) and app.query_one(ThinkingPane).text)
        await pilot.press("escape")
        await until(pilot, lambda: app.live is None)
        await pilot.pause(0.1)
        turn = app.query_one(AssistantTurn)
        assert turn.has_class("-noted") and app.query_one(ThinkingPane).text
        stored = app.history.conversation(app.session.conversation_id).messages[-1]
        assert stored.state == "stopped" and stored.reasoning


async def test_a_thought_that_never_closes_says_so(r1_paths):  # noqa: F811
    app = app_for(r1_paths["old"], settings=Settings(temperature=0, max_tokens=10, grammar="root ::= [a-z ]+"))
    async with app.run_test(size=SIZE) as pilot:
        turn = await reply(pilot, app, "Think.")
        assert turn.has_class("-noted") and turn.answer == ""
        assert app.history.conversation(app.session.conversation_id).messages[-1].state == "no-answer"


async def test_prompt_typed_while_loading_is_sent_when_ready(starter_path):  # noqa: F811
    app = app_for(starter_path)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, app, "Hello there")  # the model is still loading
        await until(pilot, lambda: app.session.engine is not None and app.live is None and app.query(AssistantTurn))
        await until(pilot, lambda: app.live is None)
        assert app.query(UserTurn).first().text == "Hello there" and app.session.turns[-1].role == "assistant"


async def test_a_model_that_fails_to_load_is_shown_not_raised(tmp_path):
    bad = gguf_writers.not_gguf(tmp_path / "bad.gguf")
    app = app_for(bad)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.query(".error"))
        assert "not a GGUF file" in str(app.query_one(".error").render())
        assert app.session.engine is None


async def test_regenerate_replaces_the_last_reply(starter_path):  # noqa: F811
    app = app_for(starter_path, settings=Settings(temperature=0.9, max_tokens=12))
    async with app.run_test(size=SIZE) as pilot:
        await reply(pilot, app, "Tell me a word.")
        await pilot.press("ctrl+r")
        await until(pilot, lambda: app.live is None)
        await pilot.pause(0.2)
        assert len(app.query(AssistantTurn)) == 1
        assert [m.role for m in app.history.conversation(app.session.conversation_id).messages] == ["user", "assistant"]


async def test_help_lists_every_key(starter_path):  # noqa: F811
    app = app_for(starter_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f1")
        text = str(app.screen.query(".title").first().render())
        assert text == "deskseek keys"
        await pilot.press("escape")
        assert not app.screen.query(".title")


def chat_flags(*extra: str):
    from deskseek.cli.main import build_parser

    return build_parser().parse_args(["chat", "--threads", "2", "--ctx", "512", *extra])


async def test_first_run_pulls_the_chosen_model_in_the_app(hub, home, tmp_path):
    """Nothing installed: the first-run screen lists the registry, pulls from the (test) Hub, then loads it."""
    from textual.widgets import OptionList

    from deskseek.models import store
    from deskseek.tui.screens.first_run import FirstRunScreen

    offer_tiny_on_the_hub(hub, home, tmp_path)
    app = DeskseekApp(None, history=History(ephemeral=True), flags=chat_flags(), clock=Clock())
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, FirstRunScreen))
        options = app.screen.query_one(OptionList)
        ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
        assert "starter" in ids and "r1-distill-qwen-7b" in ids
        options.highlighted = ids.index("tiny")
        options.focus()
        await pilot.press("enter")
        await until(pilot, lambda: app.session.engine is not None)
        assert app.request.name == "tiny:Q8_0" and not isinstance(app.screen, FirstRunScreen)
    assert [m.name for m in store.installed()] == ["tiny:Q8_0"]


async def test_switching_model_loads_the_picked_one(starter_path, home, tmp_path):  # noqa: F811
    from textual.widgets import OptionList

    from deskseek.models import imports
    from deskseek.tui import catalog
    from deskseek.tui.screens.model_picker import ModelPicker

    imports.import_model(starter_path, "smol")
    imports.import_model(gguf_writers.tiny_llama(tmp_path / "tiny.gguf"), "tiny")
    flags = chat_flags()
    app = DeskseekApp(catalog.request_for(flags, "smol"), history=History(ephemeral=True), flags=flags)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session.engine is not None)
        first = app.session.engine
        await pilot.press("ctrl+o")
        await until(pilot, lambda: isinstance(app.screen, ModelPicker))
        options = app.screen.query_one(OptionList)
        ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
        assert ids == ["smol", "tiny"]
        options.highlighted = 1
        options.focus()
        await pilot.press("enter")
        await until(pilot, lambda: app.session.engine is not None and app.session.engine is not first)
        assert app.request.name == "tiny" and app.query_one(StatusBar).model == "tiny"
        await until(pilot, lambda: first._ctx is None)  # the old model was freed


async def test_settings_screen_changes_this_conversation(starter_path):  # noqa: F811
    from textual.widgets import Input, TextArea

    from deskseek.tui.screens.settings import SettingsScreen

    app = app_for(starter_path, settings=Settings(temperature=0.7, max_tokens=40))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session.engine is not None)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, SettingsScreen))
        app.screen.query_one("#set-max_tokens", Input).value = "nope"
        app.screen.save()
        assert "is not a number" in str(app.screen.query_one("#settings-error").render())
        app.screen.query_one("#set-max_tokens", Input).value = "3"
        app.screen.query_one("#set-temperature", Input).value = "0"
        app.screen.query_one("#set-system", TextArea).text = "Answer in French."
        app.screen.save()
        await until(pilot, lambda: app.session.settings.max_tokens == 3)
        assert not isinstance(app.screen, SettingsScreen)
        assert app.session.settings.max_tokens == 3 and app.session.settings.temperature == 0.0
        assert app.session.system == "Answer in French."
        turn = await reply(pilot, app, "Hello")
        stored = app.history.conversation(app.session.conversation_id).messages[-1]
        assert stored.stats["completion_tokens"] <= 3 and turn is not None


async def test_escape_stops_mid_answer_and_keeps_what_was_written(r1_paths):  # noqa: F811
    grammar = 'root ::= "Let me think." "</think>" "\\n\\n" [a-z ]+'
    app = app_for(r1_paths["old"], settings=Settings(temperature=0, max_tokens=900, grammar=grammar))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session.engine is not None)
        await send(pilot, app, "Go on.")
        await until(pilot, lambda: app.turn is not None and len(app.turn.answer) > 10)
        await pilot.press("escape")
        await until(pilot, lambda: app.live is None)
        await pilot.pause(0.1)
        stored = app.history.conversation(app.session.conversation_id).messages[-1]
        assert stored.state == "stopped" and stored.content and stored.reasoning.startswith("Let me think")
        assert app.turn.has_class("-noted") and app.query_one(ThinkingPane).has_class("-collapsed")


async def test_a_failed_load_offers_the_other_installed_models(starter_path, home, tmp_path):  # noqa: F811
    from deskseek.models import imports
    from deskseek.tui.screens.model_picker import ModelPicker

    imports.import_model(starter_path, "smol")
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(gguf_writers.truncated(starter_path, tmp_path / "cut.gguf", 2_000_000).read_bytes())
    request = ModelRequest(name="broken", path=bad, reasoning=False, allow_system=True,
                           settings=Settings(temperature=0, max_tokens=8), n_ctx=512, n_threads=2)
    app = DeskseekApp(request, history=History(ephemeral=True), flags=chat_flags())
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, ModelPicker))
        await pilot.press("enter")
        await until(pilot, lambda: app.session.engine is not None)
        assert app.request.name == "smol"


def offer_tiny_on_the_hub(hub, home, tmp_path, extra: str = "reasoning = false"):
    """A tiny model on the test Hub and a registry entry `tiny` for it (what the first-run screen offers);
    `extra`: the entry's own lines (reasoning, sampling advice)."""
    from tests.conftest import write_registry
    from tests.models.test_pull import REPO

    tiny = gguf_writers.tiny_llama(tmp_path / "tiny.gguf")
    hub.add_file(REPO, "Tiny-Q8_0.gguf", tiny.read_bytes())
    write_registry(home, f"""
[models.tiny]
description = "a tiny test model"
repo = "{REPO}"
architecture = "llama"
params = 0.001
{extra}
license = "MIT"
quants = {{ Q8_0 = {{ file = "Tiny-Q8_0.gguf", size = {tiny.stat().st_size} }} }}
""")
    return tiny
