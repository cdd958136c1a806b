"""Rendering a model's chat template: the GGUF's template is code from a download, so it runs under a budget."""

from __future__ import annotations

import threading
import time

import pytest

from deskseek.engines import chat_template
from deskseek.engines.chat_template import TemplateError, TemplateStopped
from tests.chat.test_session import LOOPING_TEMPLATE
from tests.fixtures.chat_templates import QWEN3_TEMPLATE, R1_TEMPLATE_NEW

HI = [{"role": "user", "content": "hi"}]


def render(template, **kwargs):
    return chat_template.render(template, HI, bos_token="<s>", eos_token="</s>", reasoning=False, **kwargs)


def test_a_template_that_loops_meets_its_deadline():
    started = time.monotonic()
    with pytest.raises(TemplateError, match=r"took more than 0.5 s to render \(it may loop\)"):
        render(LOOPING_TEMPLATE, deadline_s=0.5)
    assert time.monotonic() - started < 3


def test_a_stop_request_reaches_a_template_mid_loop():
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    with pytest.raises(TemplateStopped):
        render(LOOPING_TEMPLATE, should_stop=stop.is_set)


@pytest.mark.parametrize("template, message", [
    ("{{ 'x' * 100000000 }}", "made a 100,000,000-character prompt"),
    ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "recurses without end"),
    ("{{ raise_exception('no system role') }}", "failed: ValueError: no system role"),
    ("{% for %}", "failed: TemplateSyntaxError"),
])
def test_a_hostile_template_is_one_line(template, message):
    with pytest.raises(TemplateError, match=message) as caught:
        render(template)
    assert "\n" not in str(caught.value)


def test_a_real_template_renders_as_before_and_the_trace_is_removed():
    import sys

    rendered = chat_template.render(R1_TEMPLATE_NEW, HI, bos_token="<s>", eos_token="</s>", reasoning=True)
    assert rendered.prompt.endswith("<｜Assistant｜><think>\n") and rendered.starts_in_thought
    assert sys.gettrace() is None


@pytest.mark.parametrize("template", [None, R1_TEMPLATE_NEW, QWEN3_TEMPLATE])
def test_a_stored_answer_quoting_the_think_tag_is_rendered_whole(template):
    answer = "Drop them: re.sub(r'<think>.*?</think>\\s*', '', reply)"
    messages = [{"role": "user", "content": "how?"}, {"role": "assistant", "content": answer},
                {"role": "user", "content": "and then?"}]
    prompt = chat_template.render(template, messages, bos_token="<s>", eos_token="</s>", reasoning=True).prompt
    assert answer in prompt


def test_a_stored_answer_is_still_a_plain_string_to_every_other_question():
    answer = chat_template.StoredAnswer("a </think> b")
    assert "</think>" not in answer and "a </" in answer and "think>" in answer
    assert answer == "a </think> b" and answer.split("</think>") == ["a ", " b"]
