"""Turning a conversation into the prompt text a model expects, with DeepSeek-R1's rules applied.

The template inside the GGUF is the authority (rendered in llama-cpp-python's sandboxed Jinja formatter),
but R1 checkpoints differ in ways that break naive use: they want no system prompt, and their templates
come in two generations, one ending the prompt with `<｜Assistant｜>` and a newer one with
`<｜Assistant｜><think>\\n`. We normalise both so generation always starts inside the thought.
"""

from __future__ import annotations

from dataclasses import dataclass

R1_ASSISTANT = "<｜Assistant｜>"
THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"

# Used when a GGUF carries no template at all (old conversions): ChatML, which most small models know.
FALLBACK_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content']"
    " + '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


@dataclass(frozen=True)
class Rendered:
    prompt: str
    starts_in_thought: bool  # the prompt opened the thought; the model's first words are reasoning


def is_reasoning_template(template: str) -> bool:
    """A template that mentions the think tags belongs to a model that reasons (R1, Qwen3, QwQ...)."""
    return THINK_CLOSE in template or THINK_OPEN in template


def prepare_messages(messages: list[dict], *, allow_system: bool) -> list[dict]:
    """The messages the template will see.

    Assistant turns go back as their answer only: a model that re-reads its old thoughts wastes context
    and, for R1, degrades (its own templates strip them; we do not rely on every template doing so).
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
        if role == "assistant" and THINK_CLOSE in content:
            content = content.split(THINK_CLOSE)[-1].lstrip()
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
) -> Rendered:
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    formatter = Jinja2ChatFormatter(
        template=template or FALLBACK_TEMPLATE, eos_token=eos_token, bos_token=bos_token,
        add_generation_prompt=True,
    )
    prompt = formatter(messages=prepare_messages(messages, allow_system=allow_system)).prompt
    if not reasoning:
        return Rendered(prompt, starts_in_thought=False)
    if prompt.rstrip().endswith(THINK_OPEN):
        return Rendered(prompt, starts_in_thought=True)
    if prompt.endswith(R1_ASSISTANT):
        # The early-2025 R1 template: open the thought ourselves, as the newer template does.
        return Rendered(prompt + THINK_OPEN + "\n", starts_in_thought=True)
    return Rendered(prompt, starts_in_thought=False)  # e.g. Qwen3: the model opens <think> itself
