"""The chat app on a model that runs on a server (our test server, speaking llama-server's and Ollama's
formats): the same folded thought, the status line naming the server and model, the history recording
them, the server's models to pick from, Esc stopping a reply."""

from __future__ import annotations

from textual.widgets import OptionList

from deskseek.chat.history import History
from deskseek.tui import catalog
from deskseek.tui.app import DeskseekApp
from deskseek.tui.screens.model_picker import ModelPicker
from deskseek.tui.widgets.status import StatusBar
from deskseek.tui.widgets.turn import AssistantTurn
from tests.fixtures.inference_servers import Faults, InferenceServer, Script
from tests.tui.test_app import SIZE, chat_flags, reply, until


async def test_a_reply_from_the_server_folds_its_thought_and_the_status_line_names_both(tmp_path):
    history = History(tmp_path / "history.sqlite3")
    with InferenceServer("llama-server") as server:
        flags = chat_flags("--server", server.url)
        app = DeskseekApp(catalog.request_for(flags, None), history=history, flags=flags)
        async with app.run_test(size=SIZE) as pilot:
            turn = await reply(pilot, app, "What is 6 times 7?")
            status = app.query_one(StatusBar)
            assert turn.thinking is not None and turn.thinking.text.strip() == "Let me think: 6*7=42."
            assert turn.answer == "The answer is 42." and not turn.thinking.expanded
            assert status.model == "DeepSeek-R1-Distill-Qwen-7B" and status.backend == f"on {server.url}"
            assert status.context == "ctx 21/8192" and "tok/s" in status.speed  # the server's counts: 8 + 13
            assert " · ".join([status.model, status.backend]) in str(status.render())
    (summary,) = history.conversations()
    stored = history.conversation(summary.id)
    history.close()
    assert (stored.model, stored.server) == ("DeepSeek-R1-Distill-Qwen-7B", server.url)
    assert [(m.role, m.model, m.server) for m in stored.messages] == [
        ("user", None, None), ("assistant", "DeepSeek-R1-Distill-Qwen-7B", server.url)]
    assert stored.messages[-1].reasoning == "Let me think: 6*7=42."


async def test_the_servers_models_are_offered_when_none_is_named():
    with InferenceServer("ollama", models=["deepseek-r1:7b", "deepseek-r1:70b"]) as server:
        flags = chat_flags("--server", server.url)
        app = DeskseekApp(None, history=History(ephemeral=True), flags=flags)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: isinstance(app.screen, ModelPicker))
            options = app.screen.query_one(OptionList)
            assert [options.get_option_at_index(i).id for i in range(options.option_count)] == [
                "deepseek-r1:7b", "deepseek-r1:70b"]
            options.highlighted = 1
            options.focus()
            await pilot.press("enter")
            await until(pilot, lambda: app.session.engine is not None)
            assert app.session.engine.model == "deepseek-r1:70b" and app.session.model == "deepseek-r1:70b"
            assert app.query_one(StatusBar).model == "deepseek-r1:70b"
            assert app.query_one(StatusBar).context == ""  # Ollama does not say the context it runs with
            turn = await reply(pilot, app, "6*7?")
            assert turn.answer == "The answer is 42."
            assert server.chat_requests()[-1]["body"]["model"] == "deepseek-r1:70b"


async def test_escape_stops_a_reply_streaming_from_a_slow_server():
    script = Script(thought=["hm "] * 40)
    with InferenceServer("llama-server", script=script, faults=Faults(token_delay_s=0.3)) as server:
        flags = chat_flags("--server", server.url)
        app = DeskseekApp(catalog.request_for(flags, None), history=History(ephemeral=True), flags=flags)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.session.engine is not None)
            app.query_one("#prompt").text = "think long"
            await pilot.press("enter")
            await until(pilot, lambda: app.turn is not None and app.turn.thinking.text.strip())
            await pilot.press("escape")
            await until(pilot, lambda: app.live is None)
            await pilot.pause(0.2)
            turn = app.query(AssistantTurn).last()
            assert app.session.turns[-1].state == "stopped"
            assert turn.thinking.text.startswith("hm") and server.sent_tokens < 40


async def test_settings_left_to_the_server_stay_unsent_and_those_chosen_go():
    from textual.widgets import Input

    from deskseek.tui.screens.settings import SettingsScreen

    with InferenceServer("vllm") as server:
        flags = chat_flags("--server", server.url)
        app = DeskseekApp(catalog.request_for(flags, None), history=History(ephemeral=True), flags=flags)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.session.engine is not None)
            await pilot.press("ctrl+s")
            await until(pilot, lambda: isinstance(app.screen, SettingsScreen))
            temperature = app.screen.query_one("#set-temperature", Input)
            assert temperature.value == "" and temperature.placeholder == "the default"
            app.screen.query_one("#set-top_p", Input).value = "0.9"
            app.screen.save()
            await until(pilot, lambda: app.session.settings.top_p == 0.9)
            await reply(pilot, app, "6*7?")
    body = server.chat_requests()[-1]["body"]
    assert body["top_p"] == 0.9 and "temperature" not in body and "max_tokens" not in body


async def test_a_reply_without_a_thought_leaves_no_empty_thought_header():
    with InferenceServer("vllm", models=["Qwen3-32B"], script=Script(thought=[])) as server:
        flags = chat_flags("--server", server.url)
        app = DeskseekApp(catalog.request_for(flags, None), history=History(ephemeral=True), flags=flags)
        async with app.run_test(size=SIZE) as pilot:
            turn = await reply(pilot, app, "Hi")
            assert turn.answer == "The answer is 42."
            assert turn.thinking is not None and not turn.thinking.display  # the pane was there, in case
