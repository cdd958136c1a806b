"""Searching the history: every script, short terms, literal text, an index in step with every write, the
upgrade of a file written before the index existed, and a reply killed mid-stream."""

from __future__ import annotations

import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from deskseek.chat import history as history_module
from deskseek.chat.history import SCHEMA_VERSION, History
from deskseek.chat.search import SNIPPET_CHARS, lines
from tests.conftest import REPO_ROOT


@pytest.fixture
def db_path(tmp_path) -> Path:
    return tmp_path / "history.sqlite3"


def found(h: History, query: str) -> list[tuple[str, str]]:
    return [(hit.role, hit.marked("[", "]")) for hit in h.search(query)]


@pytest.fixture
def chats(db_path):
    with History(db_path) as h:
        korean = h.new_conversation("r1")
        h.add_message(korean, "user", "나는 바다에 가고 싶다")
        h.add_message(korean, "assistant", "바다는 넓어요.", reasoning="The user wants to go to the sea.")
        chinese = h.new_conversation("r1")
        h.add_message(chinese, "user", "我们明天去海边吧")
        japanese = h.new_conversation("r1")
        h.add_message(japanese, "user", "今日は海へ行きます")
        english = h.new_conversation("r1")
        h.add_message(english, "user", "Why does Revitalisation matter?\n\n    indented code line")
        mixed = h.new_conversation("r1")
        h.add_message(mixed, "user", 'Translate "ocean" into 한국어: 바다, and 中文: 海洋 -- a AND b * c')
        yield h


@pytest.mark.parametrize("query, expected", [
    ("바다", [("user", 'Translate "ocean" into 한국어: [바다], and 中文: 海洋 -- a AND b * c'),
              ("assistant", "[바다]는 넓어요."), ("user", "나는 [바다]에 가고 싶다")]),
    ("바다에", [("user", "나는 [바다에] 가고 싶다")]),
    ("明天去", [("user", "我们[明天去]海边吧")]),
    ("海へ行", [("user", "今日は[海へ行]きます")]),
    ("vital", [("user", "Why does Re[vital]isation matter?")]),
    ("REVITALISATION", [("user", "Why does [Revitalisation] matter?")]),
    ("sea", [("thought", "The user wants to go to the [sea].")]),
    ("한국어 ocean", [("user", 'Translate "[ocean]" into [한국어]: 바다, and 中文: 海洋 -- a AND b * c')]),
    ("code", [("user", "indented [code] line")]),  # the indent is not part of the snippet
])
def test_every_script_is_found_inside_words(chats, query, expected):
    assert found(chats, query) == expected


@pytest.mark.parametrize("query, expected", [
    ("海", ['Translate "ocean" into 한국어: 바다, and 中文: [海]洋 -- a AND b * c', "今日は[海]へ行きます",
           "我们明天去[海]边吧"]),  # one character
    ("海洋", ['Translate "ocean" into 한국어: 바다, and 中文: [海洋] -- a AND b * c']),  # two
    ("넓어", ["바다는 [넓어]요."]),
    ("MA", ["Why does Revitalisation [ma]tter?"]),  # short Latin terms fold case too
])
def test_terms_shorter_than_a_trigram(chats, query, expected):
    assert [snippet for _, snippet in found(chats, query)] == expected


@pytest.mark.parametrize("query", ['"ocean"', '"', "*", "-", "--", "AND", "a AND b", "NEAR(", "ocean*", "'",
                                   "%", "_", "\\", "c)", "^bar", ":", "中文:"])
def test_syntax_characters_are_text_to_find_never_an_error(chats, query):
    hits = chats.search(query)
    for hit in hits:
        assert all(term.lower() in hit.snippet.lower() for term in query.split())
    literal = {'"ocean"': 1, "*": 1, "--": 1, "AND": 1, "a AND b": 1, "中文:": 1, "%": 0, "_": 0, "NEAR(": 0}
    if query in literal:
        assert len(hits) == literal[query], query


def test_nothing_to_find(chats):
    assert chats.search("") == chats.search("   ") == chats.search("zebra") == []
    assert chats.search("바다", limit=0) == []
    assert len(chats.search("바다", limit=2)) == 2


def test_json_rows_have_exactly_the_promised_keys(chats):
    [hit] = chats.search("바다에")
    assert list(hit.as_json()) == ["conversation_id", "message_id", "role", "snippet", "updated_at"]
    assert hit.as_json()["snippet"] == "나는 바다에 가고 싶다"  # the text as written; the marks are the face's


def test_a_long_line_is_cut_around_the_match():
    with History(ephemeral=True) as h:
        cid = h.new_conversation("r1")
        h.add_message(cid, "user", "x" * 500 + " needle " + "y" * 500)
        [hit] = h.search("needle")
    assert hit.snippet.startswith("…x") and hit.snippet.endswith("y…")
    assert len(hit.snippet) <= SNIPPET_CHARS + 2 and hit.marked("[", "]").count("[needle]") == 1


def test_the_index_follows_a_streaming_reply_edits_and_deletes(db_path):
    with History(db_path, flush_every_s=0) as h, History(db_path) as reader:
        cid = h.new_conversation("r1")
        h.add_message(cid, "user", "tell me of whales")
        reply = h.start_reply(cid, "r1")
        reply.add_reasoning("Whales are mammals")  # flushed at once (flush_every_s=0)
        reply.add_answer("The blue whale is the lar")
        assert found(reader, "mammals") == [("thought", "Whales are [mammals]")]  # another process sees it
        assert found(reader, "largest") == []
        reply.add_answer("gest animal.\n\nKrill")
        reply.finish("complete")
        assert found(reader, "largest") == [("assistant", "The blue whale is the [largest] animal.")]
        assert found(reader, "Krill") == [("assistant", "[Krill]")]
        assert found(reader, "whale") == [("assistant", "The blue [whale] is the largest animal."),
                                          ("thought", "[Whale]s are mammals"),
                                          ("user", "tell me of [whale]s")]
        h.delete_messages([reply.message_id])
        assert found(reader, "largest") == [] and found(reader, "mammals") == []
        h.delete(cid)
        assert reader.search("whale") == []
    db = sqlite3.connect(db_path)
    assert db.execute("SELECT COUNT(*) FROM message_lines").fetchone() == (0,)
    db.execute("INSERT INTO message_search (message_search) VALUES ('integrity-check')")  # raises if out of step


def test_the_panel_cannot_delete_a_conversation_whose_reply_is_being_written(db_path):
    with History(db_path) as h, History(db_path) as other:
        cid = h.new_conversation("r1")
        h.add_message(cid, "user", "hi")
        reply = h.start_reply(cid, "r1")
        for history in (h, other):  # this process, and another deskseek on the same file
            with pytest.raises(history_module.DeskseekError, match="still being written"):
                history.delete(cid, spare_live=True)
        reply.finish("complete")
        other.delete(cid, spare_live=True)
        assert h.conversations() == []


V5_TEXT = [  # (role, content, reasoning): lines, blank lines, trailing newlines, every script
    ("user", "첫 줄\n\n바다에 가자\n", ""),
    ("assistant", "Answer line one\r\n   \n  last line", "생각: 我们\n今日は"),
    ("user", "", ""),
]


def write_v5(path: Path) -> None:
    """A file as deskseek's schema v5 wrote it: its own five steps and a chat, no search index."""
    db = sqlite3.connect(path)
    for step in history_module.MIGRATIONS[:5]:
        for statement in step:
            db.execute(statement)
    db.execute("INSERT INTO conversations (id, title, model, created_at, updated_at) "
               "VALUES (1, 'Old chat', 'r1', '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00')")
    for position, (role, content, reasoning) in enumerate(V5_TEXT):
        db.execute("INSERT INTO messages (conversation_id, position, role, content, reasoning, created_at, updated_at) "
                   "VALUES (1, ?, ?, ?, ?, '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00')",
                   (position, role, content, reasoning))
    db.execute("PRAGMA user_version = 5")
    db.commit()
    db.close()


def test_a_v5_file_keeps_every_message_and_becomes_searchable(db_path):
    write_v5(db_path)
    with History(db_path) as h:
        messages = h.conversation(1).messages
        assert [(m.role, m.content, m.reasoning) for m in messages] == V5_TEXT
        assert found(h, "바다") == [("user", "[바다]에 가자")]
        assert found(h, "last line") == [("assistant", "[last] [line]")]  # each term marked
        assert found(h, "我们") == [("thought", "생각: [我们]")]
        assert found(h, "今日") == [("thought", "[今日]は")]
        assert found(h, "one") == [("assistant", "Answer line [one]")]
        h.add_message(1, "user", "새 바다")
        assert [hit.snippet for hit in h.search("바다")] == ["새 바다", "바다에 가자"]
    db = sqlite3.connect(db_path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    stored = {(m, f, n): t for m, f, n, t in db.execute("SELECT message_id, field, line, text FROM message_lines "
                                                        "WHERE message_id <= 3")}
    expected = {(m, f, n): t for m, (_, content, reasoning) in enumerate(V5_TEXT, 1)
                for f, text in enumerate((content, reasoning)) for n, t in lines(text).items()}
    assert stored == expected  # the migration's SQL cuts lines exactly as index_message does
    db.execute("INSERT INTO message_search (message_search) VALUES ('integrity-check')")


CHILD = """
import sys, time
from deskseek.chat.history import History

h = History(sys.argv[1], flush_every_s=0.2)
cid = h.new_conversation("r1")
h.add_message(cid, "user", "write about the sea")
reply = h.start_reply(cid, "r1")
reply.add_reasoning("바다에 대해 생각한다\\n")
i = 0
while True:
    if reply.add_answer(f"파도{i} "):
        print("flushed", len(reply.content), flush=True)
    i += 1
    time.sleep(0.001)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_search_after_kill_9_mid_reply_finds_the_saved_part(db_path):
    process = subprocess.Popen([sys.executable, "-c", CHILD, str(db_path)], cwd=REPO_ROOT, env=os.environ.copy(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines_out: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines_out.put(line) for line in process.stdout], daemon=True).start()
    try:
        flushed = [int(lines_out.get(timeout=30).split()[1]) for _ in range(3)]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL, process.stderr.read()
    with History(db_path) as h:
        [summary] = h.conversations()
        saved = h.conversation(summary.id).messages[-1]
        assert saved.state == "interrupted" and len(saved.content) >= flushed[-1]
        last_word = saved.content.split()[-1]
        [hit] = h.search(last_word)
        assert hit.message_id == saved.id and hit.role == "assistant"
        assert found(h, "파도0 ")[0][0] == "assistant" and found(h, "생각한다") == [("thought", "바다에 대해 [생각한다]")]


def test_an_sqlite_without_trigrams_still_opens_and_finds_text_inside_words(db_path, monkeypatch):
    """SQLite < 3.34 has no trigram tokenizer: the index is made by words, and search scans the lines."""
    by_words = [tuple(statement.replace("tokenize='trigram'", "tokenize='unicode61'") for statement in step)
                for step in history_module.MIGRATIONS]
    assert by_words != history_module.MIGRATIONS  # (the v6 step names its tokenizer as this test expects)
    monkeypatch.setattr(history_module, "MIGRATIONS", by_words)
    with History(db_path) as h:
        cid = h.new_conversation("r1")
        h.add_message(cid, "user", "나는 바다에 가고 싶다, Revitalisation")
        assert found(h, "바다") == [("user", "나는 [바다]에 가고 싶다, Revitalisation")]
        assert [snippet for _, snippet in found(h, "VITAL")] == ["나는 바다에 가고 싶다, Re[vital]isation"]
        assert found(h, "바다에") == [("user", "나는 [바다에] 가고 싶다, Revitalisation")]
    assert "unicode61" in sqlite3.connect(db_path).execute(
        "SELECT sql FROM sqlite_master WHERE name = 'message_search'").fetchone()[0]


def test_short_terms_through_the_vocabulary_or_a_scan_find_exactly_the_lines_that_hold_them(monkeypatch):
    """Every 1- and 2-character term of a mixed corpus, and some in no line, through both ways a short term
    is looked for (the trigrams it starts; a LIKE scan when it starts too many): the same hits as reading
    every line, lines that end with the term or are nothing else included."""
    import random

    from deskseek.chat import search as search_module

    rng = random.Random(7)
    alphabet = "abcXYZ바다섬海洋日本 .-*\"%_"
    with History(ephemeral=True) as h:
        cid = h.new_conversation("r1")
        texts = ["x", "섬", "ab", "end with 海", "..."]
        texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30))) for _ in range(120)]
        for text in texts:
            h.add_message(cid, "user", text)
        ids = {m.id: m.content for m in h.conversation(cid).messages}

        def truth(term: str) -> set[int]:
            return {mid for mid, text in ids.items() if term.lower() in text.lower()}

        terms = {a + b for a in alphabet.strip() for b in alphabet.strip()} | set(alphabet.strip()) | {"q", "섬섬섬"[:2]}
        for threshold in (64, 2):  # 2: most terms start more trigrams than that and are scanned for
            monkeypatch.setattr(search_module, "SHORT_TERM_TRIGRAMS", threshold)
            for term in sorted(terms):
                if term != term.strip() or not term:
                    continue  # (a query is split on spaces: a term never holds one)
                got = {hit.message_id for hit in h.search(term, limit=1000)}
                assert got == truth(term), (threshold, term)
