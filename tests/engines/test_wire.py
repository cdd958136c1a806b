"""The wire formats read piece by piece, the request bodies, and where each server's thought goes."""

from __future__ import annotations

import json

import pytest

from deskseek.engines import wire
from deskseek.engines.events import Settings
from deskseek.engines.http_client import Endpoint, ServerError, public_plain_http
from deskseek.engines.thought_router import ThoughtRouter

UNSET = Settings(temperature=None, top_p=None, top_k=None, min_p=None, repeat_penalty=None)


def test_sse_events_join_data_lines_and_skip_comments_and_crlf():
    lines = [b": ping", b"data: {\"a\":", b"data: 1}", b"", b"event: x\r", b"data:[DONE]\r", b"\r"]
    assert list(wire.sse_data(lines)) == ['{"a":\n1}', "[DONE]"]


def test_an_error_field_in_the_stream_is_a_server_error():
    with pytest.raises(ServerError, match="the server reported an error: slot unavailable"):
        list(wire.sse_data([b"error: slot unavailable"]))


def test_each_servers_thought_field_is_read():
    llama = wire.openai_piece({"choices": [{"delta": {"reasoning_content": "hm"}, "index": 0}]})
    vllm = wire.openai_piece({"choices": [{"delta": {"reasoning": "hm", "content": ""}, "index": 0}]})
    inline = wire.openai_piece({"choices": [{"delta": {"content": "<think>hm"}, "index": 0}]})
    nulls = wire.openai_piece({"choices": [{"delta": {"role": "assistant", "content": None}, "index": 0}]})
    assert (llama.reasoning, vllm.reasoning, inline.content) == ("hm", "hm", "<think>hm")
    assert (nulls.reasoning, nulls.content, nulls.finish) == ("", "", None)


def test_openai_counts_from_usage_and_llama_server_timings():
    chunk = {"choices": [{"delta": {}, "finish_reason": "length", "index": 0}],
             "timings": {"cache_n": 236, "prompt_n": 1, "prompt_ms": 30.958, "prompt_per_second": 32.3,
                         "predicted_n": 35, "predicted_per_second": 52.9},
             "usage": {"completion_tokens": 48, "prompt_tokens": 237, "prompt_tokens_details": {"cached_tokens": 236},
                       "completion_tokens_details": {"reasoning_tokens": 30}}}
    piece = wire.openai_piece(chunk)
    assert piece.finish == "length"
    assert piece.counts == {"prompt_tokens": 237, "completion_tokens": 48, "cached_tokens": 236,
                            "reasoning_tokens": 30, "prompt_tok_s": 32.3, "gen_tok_s": 52.9,
                            "server_ttft_s": pytest.approx(0.030958)}


def test_an_error_object_mid_stream_is_one_line():
    with pytest.raises(ServerError, match="the server stopped with an error: The model `x` does not exist."):
        wire.openai_piece({"error": {"object": "error", "message": "The model `x` does\nnot exist.", "code": 404}})


def test_ollama_lines_thinking_content_and_the_last_lines_counters():
    thought = wire.ollama_piece(b'{"message":{"role":"assistant","content":"","thinking":"hm"},"done":false}')
    last = wire.ollama_piece(json.dumps({
        "message": {"role": "assistant", "content": ""}, "done": True, "done_reason": "length",
        "load_duration": 1_000_000, "prompt_eval_count": 26, "prompt_eval_duration": 130_000_000,
        "eval_count": 259, "eval_duration": 4_232_710_000}).encode())
    assert (thought.reasoning, thought.finish) == ("hm", None)
    assert last.finish == "length"
    assert last.counts == {"prompt_tokens": 26, "completion_tokens": 259, "prompt_tok_s": pytest.approx(200.0),
                           "gen_tok_s": pytest.approx(61.19, abs=0.01), "server_ttft_s": pytest.approx(0.131)}
    assert wire.ollama_piece(b"  ") is None
    with pytest.raises(ServerError, match="unexpected EOF"):
        wire.ollama_piece(b'{"error":"an error was encountered while running the model: unexpected EOF"}')


def test_only_what_the_user_set_is_sent():
    messages = [{"role": "user", "content": "hi", "reasoning": "not sent"}]
    assert wire.openai_body("m", messages, UNSET) == {
        "model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True,
        "stream_options": {"include_usage": True}}
    assert wire.ollama_body("m", messages, UNSET, think=False) == {
        "model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    chosen = Settings(temperature=0, top_p=0.9, top_k=20, min_p=0.0, repeat_penalty=1.1, stop=("END",), seed=7,
                      max_tokens=64, grammar='root ::= "x"')
    body = wire.openai_body("m", messages, chosen, budget_control=True)
    assert {k: body[k] for k in ("temperature", "top_p", "top_k", "min_p", "repeat_penalty", "repetition_penalty",
                                 "stop", "seed", "max_tokens", "grammar", "reasoning_control")} == {
        "temperature": 0, "top_p": 0.9, "top_k": 20, "min_p": 0.0, "repeat_penalty": 1.1, "repetition_penalty": 1.1,
        "stop": ["END"], "seed": 7, "max_tokens": 64, "grammar": 'root ::= "x"', "reasoning_control": True}
    assert wire.ollama_body("m", messages, chosen, think=True)["options"] == {
        "temperature": 0, "top_p": 0.9, "top_k": 20, "min_p": 0.0, "repeat_penalty": 1.1, "seed": 7,
        "num_predict": 64, "stop": ["END"]}
    assert wire.ollama_body("m", messages, chosen, think=True)["think"] is True


def route(router: ThoughtRouter, pieces: list[tuple[str, str]]) -> tuple[str, str]:
    out = [d for reasoning, content in pieces for d in router.feed(reasoning, content)] + router.finish()
    return "".join(t for k, t in out if k == "reasoning"), "".join(t for k, t in out if k == "answer")


@pytest.mark.parametrize(("thinks", "pieces"), [
    (True, [("", "Let me"), ("", " see.</th"), ("", "ink>\n\n42")]),  # no opening tag: R1's newer template
    (True, [("", "<think>\nLet me"), ("", " see.</think>"), ("", "\n\n42")]),  # an opening tag is noise
    (False, [("", "<think>\nLet me"), ("", " see.</think>"), ("", "\n\n42")]),  # the model opens it itself
    (False, [("\nLet me", ""), (" see.", ""), ("", "\n\n42")]),  # the server splits the thought out
    (True, [("Let me", ""), (" see.", ""), ("", "42")]),
])
def test_every_way_a_server_sends_the_thought_comes_out_the_same(thinks, pieces):
    router = ThoughtRouter(thinks=thinks)
    assert route(router, pieces) == ("Let me see.", "42")
    assert router.thought_closed


def test_a_model_that_does_not_think_answers_whole():
    router = ThoughtRouter(thinks=False)
    assert route(router, [("", "Hello"), ("", " <think> is a tag")]) == ("", "Hello <think> is a tag")
    assert router.thought_closed


def test_a_thought_that_never_closes_is_marked():
    inline, split = ThoughtRouter(thinks=True), ThoughtRouter(thinks=False)
    assert route(inline, [("", "hmm, still")]) == ("hmm, still", "")
    assert route(split, [("hmm, still", "")]) == ("hmm, still", "")
    assert not inline.thought_closed and not split.thought_closed


def test_a_stop_text_across_pieces_ends_the_reply_unseen():
    router = ThoughtRouter(thinks=False, stops=["</ans"], server_splits=True)
    out = router.feed("", "42 </a") + router.feed("", "ns and more")
    assert out == [("answer", "42 ")] and router.stopped


@pytest.mark.parametrize(("peer", "scheme", "warned"), [
    ("93.184.216.34", "http", True), ("93.184.216.34", "https", False), ("127.0.0.1", "http", False),
    ("10.1.2.3", "http", False), ("192.168.1.9", "http", False), ("100.101.102.103", "http", False),
    ("fe80::1%eth0", "http", False), ("::ffff:8.8.8.8", "http", True), ("2001:4860:4860::8888", "http", True),
])
def test_plain_http_is_flagged_only_off_the_local_network(peer, scheme, warned):
    assert public_plain_http(Endpoint(scheme, "box", 80, ""), peer) is warned
