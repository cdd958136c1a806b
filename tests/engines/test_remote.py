"""The remote engine against our test server speaking llama-server's, vLLM's and Ollama's wire formats, with
faults: every way of sending the thought, the counts, the model choice, the key, cancel, and each failure
as one line with the partial reply kept."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from deskseek.engines import events as ev
from deskseek.engines import remote_target
from deskseek.engines.http_client import ServerError
from deskseek.engines.protocol import Engine, Stream
from deskseek.engines.remote import RemoteEngine
from deskseek.errors import NotFound, UsageError
from tests.fixtures.inference_servers import FLAVOURS, Faults, InferenceServer, Script

UNSET = ev.Settings(temperature=None, top_p=None, top_k=None, min_p=None, repeat_penalty=None)
ASK = [{"role": "user", "content": "What is 6 times 7?"}]


def connect(server: InferenceServer, *, url: str | None = None, model: str | None = None, key: str | None = None,
            read_timeout: float = 30) -> RemoteEngine:
    target = remote_target.Target(url=url or server.url, model=model, api_key=key)
    return RemoteEngine(remote_target.probe(target), read_timeout=read_timeout)


def events_of(stream) -> list[ev.Event]:
    return list(stream)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_each_server_streams_the_thought_then_the_answer(flavour):
    with InferenceServer(flavour) as server, connect(server) as engine:
        assert isinstance(engine, Engine) and engine.reasoning and engine.server == server.url
        stream = engine.generate(ASK, UNSET)
        assert isinstance(stream, Stream)
        events = events_of(stream)
    reply = stream.reply
    assert (reply.reasoning, reply.content) == ("Let me think: 6*7=42.", "The answer is 42.")
    assert (reply.finish_reason, reply.thought_closed, reply.error) == ("stop", True, None)
    kinds = [type(e).__name__ for e in events if not isinstance(e, ev.TokenCount)]
    assert kinds.index("AnswerDelta") > kinds.index("ReasoningDelta") and kinds[-2:] == ["Stats", "Done"]
    counts = [e for e in events if isinstance(e, ev.TokenCount)]
    assert counts[-1].reasoning >= 8 and counts[-1].generated >= 13


def test_the_stats_are_the_servers_own_where_it_sends_them():
    with InferenceServer("llama-server") as server, connect(server) as engine:
        llama = engine.generate(ASK, UNSET).wait().stats
    with InferenceServer("ollama") as server, connect(server) as engine:
        ollama = engine.generate(ASK, UNSET).wait().stats
    with InferenceServer("vllm") as server, connect(server) as engine:
        vllm = engine.generate(ASK, UNSET).wait().stats
    assert (llama.cached_tokens, llama.completion_tokens, llama.prompt_tok_s, llama.gen_tok_s) == (3, 13, 2000, 50)
    assert (ollama.prompt_tokens, ollama.completion_tokens, ollama.gen_tok_s) == (26, 13, pytest.approx(50.0))
    assert vllm.completion_tokens == 13 and vllm.reasoning_tokens == 8  # usage only: the rest measured here
    assert all(s.ttft_s > 0 for s in (llama, ollama, vllm))


def test_an_inline_thought_with_its_opening_tag_is_split_the_same():
    with InferenceServer("llama-server-inline", script=Script(opening_tag=True)) as server, connect(server) as engine:
        reply = engine.generate(ASK, UNSET).wait()
    assert (reply.reasoning, reply.content) == ("Let me think: 6*7=42.", "The answer is 42.")


def test_ollama_is_asked_to_think_only_for_a_model_that_can():
    with InferenceServer("ollama") as server, connect(server) as engine:
        engine.generate(ASK, UNSET).wait()
        assert server.chat_requests()[-1]["body"]["think"] is True
    with InferenceServer("ollama", thinking=False, models=["llama3.2:latest"],
                         script=Script(thought=[])) as server, connect(server, model="llama3.2") as engine:
        assert engine.model == "llama3.2:latest" and not engine.reasoning  # Ollama's default tag, unsaid
        reply = engine.generate(ASK, UNSET).wait()
        assert "think" not in server.chat_requests()[-1]["body"]
    assert (reply.reasoning, reply.content) == ("", "The answer is 42.")


def test_the_api_is_found_with_or_without_v1_in_the_url():
    with InferenceServer("vllm") as server:
        for url in (server.url, server.url + "/v1", server.url + "/v1/"):
            with connect(server, url=url) as engine:
                assert engine.generate(ASK, UNSET).wait().content == "The answer is 42."
        assert {r["path"] for r in server.chat_requests()} == {"/v1/chat/completions"}


def test_the_request_carries_the_settings_set_and_the_turns_without_thoughts():
    history = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
               {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "6*7?"}]
    settings = ev.Settings(temperature=0.6, top_p=None, top_k=None, min_p=None, repeat_penalty=None, seed=3,
                           max_tokens=100, stop=("STOP",))
    with InferenceServer("llama-server") as server, connect(server, key="sk-local") as engine:
        engine.generate(history, settings).wait()
    request = server.chat_requests()[-1]
    assert request["body"]["messages"] == history
    assert {k: request["body"].get(k) for k in ("temperature", "seed", "max_tokens", "stop", "top_p")} == {
        "temperature": 0.6, "seed": 3, "max_tokens": 100, "stop": ["STOP"], "top_p": None}
    assert all(r["headers"]["Authorization"] == "Bearer sk-local" for r in server.requests)


def test_the_model_is_the_servers_only_one_else_named_from_a_list():
    with InferenceServer("llama-server", models=["a", "b"]) as server:
        with pytest.raises(UsageError) as several:
            connect(server)
        with pytest.raises(NotFound) as missing:
            connect(server, model="c")
        assert connect(server, model="b").model == "b"
    assert str(several.value) == f"{server.url} has 2 models; choose one with --model: a, b"
    assert str(missing.value) == f"{server.url} has no model 'c'; it has a, b"


def test_a_missing_or_wrong_key_is_one_line_that_says_what_to_do():
    with InferenceServer("vllm", faults=Faults(api_key="right")) as server:
        with pytest.raises(ServerError) as caught:
            connect(server, key="wrong")
        assert connect(server, key="right").model
    assert str(caught.value) == (f"{server.url} refused the request (401: Invalid API Key); give its key with "
                                 "--api-key or DESKSEEK_API_KEY (or api_key_env in models.toml)")


def test_a_refused_connection_and_something_else_on_the_port():
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    with pytest.raises(ServerError, match="connection refused"):
        remote_target.probe(remote_target.Target(url=f"http://127.0.0.1:{port}"))
    with InferenceServer("llama-server") as server:
        server.models.clear()
        with pytest.raises(NotFound, match="serves no model yet"):
            connect(server)


def test_cancel_ends_a_stream_blocked_on_a_slow_server_at_once():
    script = Script(thought=["a"] * 50, answer=["b"])
    with InferenceServer("llama-server", script=script, faults=Faults(token_delay_s=2)) as server:
        with connect(server) as engine:
            stream = engine.generate(ASK, UNSET)
            first = next(e for e in stream if isinstance(e, ev.ReasoningDelta))
            started = time.perf_counter()
            stream.cancel()  # the reader is blocked in recv, waiting 2 s for the next token
            rest = list(stream)
            elapsed = time.perf_counter() - started
            assert server.hung_up.wait(10)  # the server saw the client go, and stopped
            again = engine.generate(ASK, UNSET)  # the engine is free again at once
            again.cancel()
            again.wait()
    assert elapsed < 0.5, f"cancel took {elapsed:.2f} s"
    assert first.text == "a" and rest[-1] == ev.Done("cancelled", False) and stream.reply.reasoning == "a"
    assert server.sent_tokens < 5


def test_cancel_before_the_first_token_while_the_server_reads_the_prompt():
    with InferenceServer("ollama", faults=Faults(first_token_delay_s=5)) as server, connect(server) as engine:
        stream = engine.generate(ASK, UNSET)
        threading.Timer(0.3, stream.cancel).start()
        started = time.perf_counter()
        reply = stream.wait()
    assert reply.finish_reason == "cancelled" and time.perf_counter() - started < 1.5
    assert reply.stats is not None and reply.content == ""


@pytest.mark.parametrize("flavour", ["llama-server", "ollama"])
def test_a_server_that_dies_mid_reply_keeps_the_partial_reply_and_says_so(flavour):
    with InferenceServer(flavour, faults=Faults(cut_after=4)) as server, connect(server) as engine:
        reply = engine.generate(ASK, UNSET).wait()
    assert reply.finish_reason == "error" and reply.reasoning.startswith("Let me")
    assert "closed the stream mid-reply" in reply.error and "the reply so far is kept" in reply.error


@pytest.mark.parametrize("flavour", ["vllm", "ollama"])
def test_an_error_in_the_stream_is_one_line_after_the_text_so_far(flavour):
    with InferenceServer(flavour, faults=Faults(error_after=3)) as server, connect(server) as engine:
        reply = engine.generate(ASK, UNSET).wait()
    assert reply.finish_reason == "error" and reply.reasoning.startswith("Let me")
    assert reply.error.startswith("the server stopped with an error: ") and "\n" not in reply.error


@pytest.mark.parametrize(("status", "said"), [
    (500, "answered 500 Internal Server Error: simulated failure"),
    (401, "refused the request (401: refused); give its key"),
])
def test_a_refused_reply_is_one_line(status, said):
    with InferenceServer("llama-server") as server, connect(server) as engine:
        server.faults.chat_status = status
        reply = engine.generate(ASK, UNSET).wait()
    assert reply.finish_reason == "error" and said in reply.error


def test_a_model_removed_since_connecting_is_one_line():
    with InferenceServer("ollama") as server, connect(server) as engine:
        server.models[:] = ["other:1b"]
        reply = engine.generate(ASK, UNSET).wait()
    assert reply.error == (f"{server.url} has no model 'deepseek-r1:7b' now (it answered 404: model "
                           "\"deepseek-r1:7b\" not found, try pulling it first)")


def test_a_server_that_goes_silent_times_out_with_one_line():
    with InferenceServer("vllm", faults=Faults(hang=True)) as server, connect(server, read_timeout=0.5) as engine:
        started = time.perf_counter()
        reply = engine.generate(ASK, UNSET).wait()
    assert time.perf_counter() - started < 5
    assert reply.finish_reason == "error" and "sent nothing for 0.5 s" in reply.error


def test_the_think_budget_asks_llama_server_to_end_the_thought():
    with InferenceServer("llama-server") as server, connect(server) as engine:
        reply = engine.generate(ASK, ev.Settings(**{**UNSET.__dict__, "think_budget": 3})).wait()
        assert server.chat_requests()[-1]["body"]["reasoning_control"] is True
        assert server.controls == [{"id": "chatcmpl-test0123456789", "action": "reasoning_end",
                                    "model": "DeepSeek-R1-Distill-Qwen-7B"}]
    assert reply.notices == []
    with InferenceServer("llama-server", faults=Faults(no_control=True)) as server, connect(server) as engine:
        older = engine.generate(ASK, ev.Settings(**{**UNSET.__dict__, "think_budget": 3})).wait()
    with InferenceServer("ollama") as server, connect(server) as engine:
        ollama = engine.generate(ASK, ev.Settings(**{**UNSET.__dict__, "think_budget": 3})).wait()
    assert older.notices == ["this server cannot end a thought early (it answered 404): the think budget does "
                             "not apply to it"]
    assert ollama.notices == ["Ollama takes no think budget: --think-budget does not apply to this reply"]


def test_one_reply_at_a_time_and_none_after_close():
    with InferenceServer("llama-server", faults=Faults(token_delay_s=0.2)) as server:
        engine = connect(server)
        stream = engine.generate(ASK, UNSET)
        with pytest.raises(Exception, match="already being generated"):
            engine.generate(ASK, UNSET)
        engine.close()  # cancels the reply in flight and waits for it
        assert stream.reply.finish_reason == "" and not stream.thread.is_alive()
        assert list(stream)[-1].finish_reason == "cancelled"
        with pytest.raises(Exception, match="closed"):
            engine.generate(ASK, UNSET)


def test_plain_http_off_the_local_network_is_said_once(monkeypatch):
    """Which addresses count is tested on real addresses in test_wire.py; a test cannot reach a public one,
    so here the judgement is made to say "public" for the loopback server, and the notice's path is real."""
    monkeypatch.setattr(remote_target, "public_plain_http", lambda endpoint, peer: peer == "127.0.0.1")
    with InferenceServer("llama-server") as server, connect(server) as engine:
        first = engine.generate(ASK, UNSET).wait()
        second = engine.generate(ASK, UNSET).wait()
    assert first.notices == [f"{server.url} is reached over plain http outside this network: the conversation "
                             "crosses it unencrypted (use https, a VPN or an SSH tunnel)"]
    assert second.notices == []


def test_a_model_whose_name_says_nothing_still_shows_a_thought_the_server_splits_out():
    with InferenceServer("vllm", models=["Qwen3-32B"]) as server, connect(server) as engine:
        assert engine.reasoning and not engine.info.thinks  # may think; its text is not taken for thought
        reply = engine.generate(ASK, UNSET).wait()
    assert (reply.reasoning, reply.content) == ("Let me think: 6*7=42.", "The answer is 42.")
    with InferenceServer("llama-server-inline", models=["Qwen3-32B"], script=Script(thought=[]), thinking=False) \
            as server, connect(server) as engine:
        assert not engine.reasoning  # llama-server's /props: a template with no think tags
        plain = engine.generate(ASK, UNSET).wait()
    assert (plain.reasoning, plain.content, plain.thought_closed) == ("", "The answer is 42.", True)
