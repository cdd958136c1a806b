"""Which earlier turns go when a conversation outgrows the context: whole exchanges, oldest first."""

from __future__ import annotations

from deskseek.engines.exchanges import exchanges, without_oldest_exchange


def turns(*roles: str) -> list[dict]:
    return [{"role": role, "content": f"{role} {index}"} for index, role in enumerate(roles)]


def test_an_exchange_is_a_question_and_its_answers_and_system_messages_belong_to_none():
    messages = turns("system", "user", "assistant", "user", "assistant", "user")
    assert exchanges(messages) == [[1, 2], [3, 4], [5]]
    assert exchanges(turns("assistant", "user", "assistant", "user")) == [[0], [1, 2], [3]]


def test_the_oldest_exchange_after_the_first_goes_first_then_the_first_and_never_the_last():
    messages = turns("system", "user", "assistant", "user", "assistant", "user", "assistant", "user")
    kept = [m["content"] for m in without_oldest_exchange(messages)]
    assert kept == ["system 0", "user 1", "assistant 2", "user 5", "assistant 6", "user 7"]
    messages = without_oldest_exchange(without_oldest_exchange(messages))
    assert [m["content"] for m in messages] == ["system 0", "user 1", "assistant 2", "user 7"]
    messages = without_oldest_exchange(messages)
    assert [m["content"] for m in messages] == ["system 0", "user 7"]
    assert without_oldest_exchange(messages) is None


def test_every_step_keeps_the_roles_alternating():
    messages = turns("system", *["user", "assistant"] * 5, "user")
    while messages is not None:
        roles = [m["role"] for m in messages if m["role"] != "system"]
        assert roles == ["user", "assistant"] * (len(roles) // 2) + ["user"]
        messages = without_oldest_exchange(messages)


def test_a_greeting_before_the_first_question_goes_before_any_exchange():
    messages = turns("assistant", "user", "assistant", "user")
    assert [m["content"] for m in without_oldest_exchange(messages)] == ["user 1", "assistant 2", "user 3"]
