"""A stored conversation as text: JSON for scripts, Markdown for people."""

from __future__ import annotations

import json

from deskseek.chat.records import Conversation

FORMATS = ("md", "json")


def _settings(conversation: Conversation) -> dict:
    """The sampling settings, and the system prompt among them when there is one (the keys above stay put)."""
    if not conversation.system_prompt:
        return conversation.settings
    return {**conversation.settings, "system_prompt": conversation.system_prompt}


def to_json(conversation: Conversation) -> str:
    """A stable shape for scripts: these keys, in this order, whatever the schema grows into."""
    return json.dumps({
        "id": conversation.id,
        "title": conversation.title,
        "model": conversation.model,
        "settings": _settings(conversation),
        "created_at": conversation.created_at,
        "messages": [{
            "role": m.role,
            "content": m.content,
            "reasoning": m.reasoning,
            "state": m.state,
            "model": m.model,
            "stats": m.stats,
            "finish_reason": m.finish_reason,
            "reasoning_seconds": m.reasoning_seconds,
            "created_at": m.created_at,
            "server": m.server,
        } for m in conversation.messages],
        "server": conversation.server,
    }, ensure_ascii=False, indent=2)


_HEADINGS = {"system": "System", "user": "You", "assistant": "Assistant"}
_STATE_NOTES = {
    "streaming": "still being written",
    "stopped": "stopped: the reply was cut short on request",
    "interrupted": "interrupted: deskseek ended before this reply finished",
    "error": "error: generation failed part-way",
    "no-answer": "no answer: the model never finished thinking",
}


def to_markdown(conversation: Conversation) -> str:
    """A transcript a person reads: the thought folded away (GitHub and most viewers render <details>)."""
    facts = [f"- Model: `{conversation.model}`", f"- Started: {conversation.created_at}"]
    if conversation.server:
        facts.insert(1, f"- Server: `{conversation.server}`")
    blocks = [f"# {conversation.title or 'Untitled conversation'}", "\n".join(facts)]
    system_prompt = conversation.system_prompt or str(conversation.settings.get("system_prompt") or "")
    if system_prompt.strip() and not any(m.role == "system" for m in conversation.messages):
        blocks += [f"## {_HEADINGS['system']}", system_prompt.strip()]  # every line of it, as the model read it
    for m in conversation.messages:
        heading = _HEADINGS[m.role]
        if m.role == "assistant" and m.model and (m.model, m.server) != (conversation.model, conversation.server):
            heading += f" ({m.model}{f' on {m.server}' if m.server else ''})"
        blocks.append(f"## {heading}")
        if m.reasoning.strip():
            summary = "Thought" if m.reasoning_seconds is None else f"Thought for {m.reasoning_seconds:.1f} s"
            thought = m.reasoning.strip().replace("</details>", "&lt;/details&gt;")
            blocks.append(f"<details><summary>{summary}</summary>\n\n{thought}\n\n</details>")
        if m.content.strip():
            blocks.append(m.content.strip())
        if m.state in _STATE_NOTES:
            blocks.append(f"*[{_STATE_NOTES[m.state]}]*")
    return "\n\n".join(blocks) + "\n"
