"""A conversation's settings (sampling, limits, system prompt) are its own: stored with it, restored with it,
kept across a model switch once chosen, and not carried into a new chat. On the real engine and history."""

from __future__ import annotations

import dataclasses
import json

import pytest

from deskseek.chat.history import History
from deskseek.chat.session import ChatSession
from deskseek.engines.events import Settings
from tests.chat.test_session import loader_for
from tests.fixtures import gguf_writers

DEFAULTS = Settings(temperature=0.6, max_tokens=4, ignore_eos=True)
CHOSEN = Settings(temperature=0.0, top_p=0.5, max_tokens=2, think_budget=7, ignore_eos=True)
SYSTEM = "You are terse.\nAnswer in one word.\n\nNever apologise."


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return gguf_writers.tiny_llama(tmp_path_factory.mktemp("tiny") / "tiny.gguf")


def session(tiny, history, **kwargs) -> ChatSession:
    chat = ChatSession(history, settings=DEFAULTS, **kwargs)
    assert chat.load("tiny", loader_for({"tiny": tiny}))
    return chat



def as_stored(settings) -> dict:
    """Settings as the history keeps them: JSON (a tuple of stop texts comes back as a list)."""
    return json.loads(json.dumps(dataclasses.asdict(settings)))

def test_settings_chosen_mid_conversation_are_stored_and_come_back_on_resume(tiny, tmp_path):
    db = tmp_path / "h.sqlite3"
    with History(db) as history:
        chat = session(tiny, history)
        chat.send("one").wait()
        stored = history.conversation(chat.conversation_id)
        assert stored.settings == as_stored(DEFAULTS) and stored.system_prompt == ""
        chat.configure(CHOSEN, SYSTEM)  # saved at once, before any other prompt
        stored = history.conversation(chat.conversation_id)
        assert stored.settings == as_stored(CHOSEN) and stored.system_prompt == SYSTEM
        conversation = chat.conversation_id
        chat.close()
    with History(db) as history:
        chat = session(tiny, history)
        assert (chat.settings, chat.system) == (DEFAULTS, "")  # a new chat's
        chat.resume(conversation)
        assert (chat.settings, chat.system) == (CHOSEN, SYSTEM)
        assert chat.model_messages()[0] == {"role": "system", "content": SYSTEM}
        reply = chat.send("two").wait()
        assert reply.stats.completion_tokens == CHOSEN.max_tokens  # written with the restored settings
        chat.close()


def test_settings_chosen_before_the_first_prompt_are_stored_with_it(tiny, tmp_path):
    with History(tmp_path / "h.sqlite3") as history:
        chat = session(tiny, history)
        chat.configure(CHOSEN, SYSTEM)
        chat.send("one").wait()
        stored = history.conversation(chat.conversation_id)
        assert (stored.settings, stored.system_prompt) == (as_stored(CHOSEN), SYSTEM)
        chat.close()


def test_a_new_chat_starts_from_the_defaults_not_from_the_last_conversation(tiny):
    with History(ephemeral=True) as history:
        chat = session(tiny, history, system="Be kind.")
        chat.configure(CHOSEN, SYSTEM)
        chat.send("one").wait()
        chat.new_chat()
        assert (chat.settings, chat.system, chat.chosen) == (DEFAULTS, "Be kind.", False)
        chat.close()


def test_a_model_switch_keeps_chosen_settings_and_otherwise_takes_the_new_models(tiny):
    other = Settings(temperature=0.3, max_tokens=3, ignore_eos=True)
    with History(ephemeral=True) as history:
        chat = session(tiny, history, system="Be kind.")
        chat.send("one").wait()
        chat.use_model_defaults(other)  # nothing chosen: the new model's recommended values
        assert (chat.settings, chat.system) == (other, "Be kind.")
        chat.send("two").wait()  # and the stored conversation says so
        assert history.conversation(chat.conversation_id).settings == as_stored(other)
        chat.configure(CHOSEN, SYSTEM)
        chat.use_model_defaults(DEFAULTS)  # chosen: both the sampling and the system prompt stay
        assert (chat.settings, chat.system) == (CHOSEN, SYSTEM)
        chat.close()


def test_the_command_lines_settings_win_over_a_resumed_conversations(tiny, tmp_path):
    db = tmp_path / "h.sqlite3"
    with History(db) as history:
        chat = session(tiny, history)
        chat.configure(CHOSEN, SYSTEM)
        chat.send("one").wait()
        conversation = chat.conversation_id
        chat.close()
    with History(db) as history:
        chat = session(tiny, history, pinned={"temperature": 1.5, "system": "Be kind."})
        chat.resume(conversation)
        assert chat.settings == dataclasses.replace(CHOSEN, temperature=1.5) and chat.system == "Be kind."
        chat.send("two").wait()
        stored = history.conversation(conversation)
        assert stored.settings["temperature"] == 1.5 and stored.system_prompt == "Be kind."
        chat.close()


def test_a_stored_conversation_from_before_a_settings_field_existed_keeps_the_default_for_it(tiny, tmp_path):
    with History(tmp_path / "h.sqlite3") as history:
        conversation = history.new_conversation("tiny", {"temperature": 0.1, "a_field_from_long_ago": 1})
        history.add_message(conversation, "user", "hi")
        chat = session(tiny, history)
        chat.resume(conversation)
        assert chat.settings == dataclasses.replace(DEFAULTS, temperature=0.1)
        chat.close()
