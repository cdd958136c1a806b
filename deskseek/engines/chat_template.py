"""Turning a conversation into the prompt text a model expects, with DeepSeek-R1's rules applied.

The template inside the GGUF is the authority (rendered in llama-cpp-python's sandboxed Jinja formatter),
but R1 checkpoints differ in ways that break naive use: they want no system prompt, and their templates
come in two generations, one ending the prompt with `<｜Assistant｜>` and a newer one with
`<｜Assistant｜><think>\\n`. We normalise both so generation always starts inside the thought.
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from deskseek.errors import DeskseekError

R1_ASSISTANT = "<｜Assistant｜>"
THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"

# Used when a GGUF carries no template at all (old conversions): ChatML, which most small models know.
FALLBACK_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content']"
    " + '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


DEADLINE_S = 10.0  # a real template renders in milliseconds
MAX_PROMPT_CHARS = 50_000_000
_CHECK_EVERY = 512  # traced lines between looks at the clock and the stop flag
T = TypeVar("T")


class TemplateError(DeskseekError):
    """The GGUF's chat template cannot make a prompt: it fails, loops, or makes one absurdly large."""


class TemplateStopped(TemplateError):
    """Rendering was stopped on request (Esc, Ctrl+C) before it finished."""


def bounded(work: Callable[[], T], *, should_stop: Callable[[], bool] | None, deadline_s: float) -> T:
    """Run `work` (a template render) on this thread so that a deadline and a stop request reach it.

    The template comes from a downloaded file and runs as Python code compiled by Jinja, whose sandbox
    bounds what it may touch but not how long it runs: `{% for i in range(10**5) %}{% for j in ... %}`
    never ends. A trace function sees every line that code executes and raises out of it once the
    deadline passes or the caller asks to stop. It costs a few milliseconds on a real template.
    """
    deadline = time.monotonic() + deadline_s
    steps = 0

    def trace(frame, event, _arg):
        nonlocal steps
        steps += 1
        if steps % _CHECK_EVERY == 0:
            if should_stop is not None and should_stop():
                raise TemplateStopped("stopped while the chat template was being rendered")
            if time.monotonic() > deadline:
                raise TemplateError(f"the model's chat template took more than {deadline_s:g} s to render "
                                    "(it may loop); it cannot be used")
        return trace

    previous = sys.gettrace()
    sys.settrace(trace)
    try:
        return work()
    finally:
        sys.settrace(previous)


@dataclass(frozen=True)
class Rendered:
    prompt: str
    starts_in_thought: bool  # the prompt opened the thought; the model's first words are reasoning


class StoredAnswer(str):
    """An earlier turn's answer, with no thought in it: `"</think>" in answer` is False even when it quotes the tag.

    R1's and Qwen3's templates ask exactly that (`{% if '</think>' in content %}`) before keeping only the text
    after the last `</think>`, a rule meant for replies stored with their thought. Ours never are, so the
    honest answer to "does this carry a thought?" is no, whatever the text mentions.
    """

    __slots__ = ()

    def __contains__(self, part: object) -> bool:
        return part != THINK_CLOSE and str.__contains__(self, part)


def prepare_messages(messages: list[dict], *, allow_system: bool) -> list[dict]:
    """The messages the template will see.

    Assistant turns arrive as their answer only (the session stores the reasoning apart), so nothing here
    splits them at `</think>`: an answer that mentions the tag (a regex that strips think tags) must reach
    the model whole. They go to the template as a StoredAnswer, which keeps templates that strip the
    thought themselves (R1's, Qwen3's) from cutting it there either.
    Without system-prompt support, the system text is folded into the first user turn, as R1's card asks.
    """
    prepared: list[dict] = []
    system = [m["content"] for m in messages if m["role"] == "system" and m["content"].strip()]
    for message in messages:
        role, content = message["role"], message["content"]
        if role == "system":
            if allow_system and content.strip():
                prepared.append({"role": "system", "content": content})
            continue
        if role == "assistant":
            content = StoredAnswer(content)
        prepared.append({"role": role, "content": content})
    if system and not allow_system:
        for message in prepared:
            if message["role"] == "user":
                message["content"] = "\n\n".join(system + [message["content"]])
                break
    return prepared


def render(
    template: str | None,
    messages: list[dict],
    *,
    bos_token: str,
    eos_token: str,
    reasoning: bool,
    allow_system: bool = True,
    should_stop: Callable[[], bool] | None = None,
    deadline_s: float = DEADLINE_S,
) -> Rendered:
    """The prompt for `messages`; TemplateError (one line) for a template that fails, loops or explodes."""
    try:
        formatter = _formatter(template or FALLBACK_TEMPLATE, eos_token, bos_token)
        prepared = prepare_messages(messages, allow_system=allow_system)
        prompt = bounded(lambda: formatter(messages=prepared).prompt, should_stop=should_stop, deadline_s=deadline_s)
    except TemplateError:
        raise
    except RecursionError:
        raise TemplateError("the model's chat template recurses without end; it cannot be rendered") from None
    except Exception as err:  # Jinja's own errors, and whatever a hostile template raises
        raise TemplateError(f"the model's chat template failed: {type(err).__name__}: {err}") from None
    if len(prompt) > MAX_PROMPT_CHARS:
        raise TemplateError(f"the model's chat template made a {len(prompt):,}-character prompt; it cannot be sent")
    if not reasoning:
        return Rendered(prompt, starts_in_thought=False)
    if prompt.rstrip().endswith(THINK_OPEN):
        return Rendered(prompt, starts_in_thought=True)
    if prompt.endswith(R1_ASSISTANT):
        # The early-2025 R1 template: open the thought ourselves, as the newer template does.
        return Rendered(prompt + THINK_OPEN + "\n", starts_in_thought=True)
    return Rendered(prompt, starts_in_thought=False)  # e.g. Qwen3: the model opens <think> itself


@functools.lru_cache(maxsize=8)
def _formatter(template: str, eos_token: str, bos_token: str):
    """Compiled once per template (compiling is most of the cost of a render), outside the traced part."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    return Jinja2ChatFormatter(template=template, eos_token=eos_token, bos_token=bos_token, add_generation_prompt=True)
