"""Which earlier turns go when a conversation outgrows the context: whole exchanges, oldest first.

Dropping single messages breaks the user/assistant alternation that many chat templates insist on
(Gemma's and Mistral's raise on it), so the unit that goes is an exchange: a user turn and the replies
that follow it. The system prompt always stays, and so does the last exchange (the prompt being
answered). The first exchange says what the conversation is about, so it outlives the ones after it and
goes only when nothing else is left to drop.
"""

from __future__ import annotations


def exchanges(messages: list[dict]) -> list[list[int]]:
    """The indices of `messages`, grouped by exchange: each group starts at a user turn (system messages
    belong to none; anything before the first user turn, such as an assistant greeting, is a group of its own)."""
    groups: list[list[int]] = []
    for index, message in enumerate(messages):
        if message["role"] == "system":
            continue
        if message["role"] == "user" or not groups:
            groups.append([])
        groups[-1].append(index)
    return groups


def without_oldest_exchange(messages: list[dict]) -> list[dict] | None:
    """`messages` less the exchange that should go first, or None when only the last one is left."""
    groups = exchanges(messages)
    earlier = groups[:-1]
    first_user = next((k for k, group in enumerate(earlier) if messages[group[0]]["role"] == "user"), None)
    order = [group for k, group in enumerate(earlier) if k != first_user]
    if first_user is not None:
        order.append(earlier[first_user])  # the first question goes last of all
    if not order:
        return None
    gone = set(order[0])
    return [message for index, message in enumerate(messages) if index not in gone]
