"""The chat session on a model on a server: it drives the remote engine as it drives the local one, and the
history keeps each reply's server, its partial text when the server dies, and its thought apart."""

from __future__ import annotations

from deskseek.chat.history import History
from deskseek.chat.session import ChatSession
from deskseek.engines import remote_target
from deskseek.engines.events import Settings
from deskseek.engines.remote import RemoteEngine
from tests.fixtures.inference_servers import Faults, InferenceServer

UNSET = Settings(temperature=None, top_p=None, top_k=None, min_p=None, repeat_penalty=None)


def loader(server: InferenceServer):
    def load(model: str, _keep_going) -> tuple[RemoteEngine, None]:
        target = remote_target.Target(url=server.url, model=model)
        return RemoteEngine(remote_target.probe(target)), None

    return load


def test_a_conversation_on_a_server_is_stored_with_it_and_sent_without_thoughts(tmp_path):
    with InferenceServer("ollama") as server, History(tmp_path / "h.sqlite3") as history:
        session = ChatSession(history, settings=UNSET)
        assert session.load("deepseek-r1:7b", loader(server))
        first = session.send("What is 6 times 7?").wait()
        second = session.send("And 7 times 6?").wait()
        sent = server.chat_requests()[-1]["body"]["messages"]
        stored = history.conversation(session.conversation_id)
        session.close()
    assert first.content == second.content == "The answer is 42."
    assert sent == [{"role": "user", "content": "What is 6 times 7?"},
                    {"role": "assistant", "content": "The answer is 42."},  # its thought stays out
                    {"role": "user", "content": "And 7 times 6?"}]
    assert stored.server == server.url
    assert [(m.role, m.state, m.server) for m in stored.messages] == [
        ("user", "complete", None), ("assistant", "complete", server.url),
        ("user", "complete", None), ("assistant", "complete", server.url)]
    assert stored.messages[1].reasoning == "Let me think: 6*7=42."


def test_a_server_that_dies_mid_reply_leaves_the_partial_reply_stored_and_marked(tmp_path):
    with InferenceServer("llama-server", faults=Faults(cut_after=6)) as server, \
            History(tmp_path / "h.sqlite3") as history:
        session = ChatSession(history, settings=UNSET)
        session.load("DeepSeek-R1-Distill-Qwen-7B", loader(server))
        reply = session.send("What is 6 times 7?").wait()
        stored = history.conversation(session.conversation_id).messages[-1]
        session.close()
    assert "closed the stream mid-reply" in reply.error
    assert (stored.state, stored.finish_reason, stored.server) == ("error", "error", server.url)
    assert stored.reasoning == reply.reasoning and stored.reasoning.startswith("Let me think")


def test_stop_mid_reply_on_a_server_keeps_it_stopped(tmp_path):
    with InferenceServer("vllm", faults=Faults(token_delay_s=0.2)) as server, \
            History(tmp_path / "h.sqlite3") as history:
        session = ChatSession(history, settings=UNSET)
        session.load("DeepSeek-R1-Distill-Qwen-7B", loader(server))
        live = session.send("What is 6 times 7?")
        next(event for event in live if type(event).__name__ == "ReasoningDelta")
        session.stop()
        reply = live.wait()
        stored = history.conversation(session.conversation_id).messages[-1]
        session.close()
    assert reply.finish_reason == "cancelled" and stored.state == "stopped" and stored.reasoning
