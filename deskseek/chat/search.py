"""Finding anything said in any chat: the search index and the queries over it.

The index is per line, not per message. A streamed reply is rewritten every second (reply_writer.py); an
index over whole messages would forget and re-learn all of a long reply at each of those writes (ten times
the cost of the write itself, measured in benchmarks/history_search.py), while per line only the last,
growing line and the new ones change. A search hit is a line anyway: that is what a result shows.

`message_lines` holds each message's non-blank lines (field 0: its content, 1: its thought); an FTS5 table
with the trigram tokenizer indexes them, kept in step by triggers on `message_lines` (records.py, schema v6),
and `message_lines` itself is written by `index_message`, which the history calls inside the same
transaction that writes the message, so the index never disagrees with what is stored. Deleting a message
deletes its lines by the foreign key's cascade, and the triggers take them out of the index.

Trigrams find text inside words in every script: `바다` in `바다에`, Chinese and Japanese without spaces,
`vital` in `revitalise`, case-insensitively (the tokenizer folds case, Unicode-wide). A term shorter than
three characters has no trigram to look up; it is matched by a LIKE scan over the lines instead (newest
first, so a common short term stops early; a rare one reads every line: linear, still well under a second
for 10,000 conversations, and exact). LIKE folds case for ASCII letters only, so a one- or two-letter
non-ASCII term (`Éa`) is matched as typed.

The query is taken literally: it is split on spaces into terms, each quoted for FTS5 (quotes doubled) or
escaped for LIKE, so `"`, `*`, `-`, `AND` or `NEAR(` are text to find, never syntax. A line matches when it
holds every term.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass

BLANK = " \t\r"  # a line of only these is not indexed (records.py's migration skips the same)
SNIPPET_CHARS = 100  # a long line is cut to about this much around its first match
FIELDS = ("content", "reasoning")


@dataclass(frozen=True)
class SearchHit:
    conversation_id: int
    title: str | None
    message_id: int
    role: str  # "user", "assistant", "system", or "thought" (an assistant message's reasoning)
    snippet: str  # the matching line, cut around the first match
    spans: tuple[tuple[int, int], ...]  # where the terms are in `snippet`, sorted, not overlapping
    updated_at: str

    def as_json(self) -> dict:
        return {"conversation_id": self.conversation_id, "message_id": self.message_id, "role": self.role,
                "snippet": self.snippet, "updated_at": self.updated_at}

    def marked(self, before: str, after: str) -> str:
        """The snippet with each match between `before` and `after` (brackets, or terminal codes)."""
        out, at = [], 0
        for start, end in self.spans:
            out += [self.snippet[at:start], before, self.snippet[start:end], after]
            at = end
        return "".join(out + [self.snippet[at:]])


def lines(text: str) -> dict[int, str]:
    """Line number -> text, blank lines left out (numbers still count them, as the migration's SQL does)."""
    return {number: line for number, line in enumerate(text.split("\n")) if line.strip(BLANK)}


def index_message(db: sqlite3.Connection, message_id: int, content: str, reasoning: str) -> None:
    """Bring a message's lines in the index to its text: only the lines that changed are written.

    Call inside the transaction that writes the message. A streaming reply's flush changes its last line
    and adds a few, so this costs in proportion to the new text, not to the whole reply.
    """
    for field, text in enumerate((content, reasoning)):
        stored = dict(db.execute("SELECT line, text FROM message_lines WHERE message_id = ? AND field = ?",
                                 (message_id, field)).fetchall())
        wanted = lines(text)
        gone = [(message_id, field, number) for number in stored.keys() - wanted.keys()]
        if gone:
            db.executemany("DELETE FROM message_lines WHERE message_id = ? AND field = ? AND line = ?", gone)
        for number, line in wanted.items():
            if number not in stored:
                db.execute("INSERT INTO message_lines (message_id, field, line, text) VALUES (?, ?, ?, ?)",
                           (message_id, field, number, line))
            elif stored[number] != line:
                db.execute("UPDATE message_lines SET text = ? WHERE message_id = ? AND field = ? AND line = ?",
                           (line, message_id, field, number))


_HIT_COLUMNS = """l.message_id, l.field, l.text, m.role, m.updated_at, m.conversation_id, c.title
                  FROM message_lines l JOIN messages m ON m.id = l.message_id
                  JOIN conversations c ON c.id = m.conversation_id"""


def search(db: sqlite3.Connection, query: str, limit: int = 20) -> list[SearchHit]:
    """Messages with a line holding every term of `query`, newest line first, one hit per message and field.

    Newest first is the order the lines were written in (their rowid): a new message's lines come after
    every older message's, and FTS5 walks its rowids backwards without sorting the matches, so a common
    term with a small limit costs little however large the history.
    """
    terms = query.split()
    if not terms or limit <= 0:
        return []
    long = [term for term in terms if len(term) >= 3]
    short = [term for term in terms if len(term) < 3]
    likes = " ".join("AND l.text LIKE ? ESCAPE '\\'" for _ in short)
    like_values = [f"%{_like_escaped(term)}%" for term in short]
    if long:
        match = " AND ".join('"' + term.replace('"', '""') + '"' for term in long)
        rows = db.execute(
            f"""SELECT {_HIT_COLUMNS} JOIN message_search s ON s.rowid = l.id
                WHERE message_search MATCH ? {likes} ORDER BY s.rowid DESC""",
            [match, *like_values],
        )
    else:
        rows = db.execute(f"SELECT {_HIT_COLUMNS} WHERE 1 {likes} ORDER BY l.id DESC", like_values)
    patterns = [re.compile(re.escape(term), re.IGNORECASE) for term in terms]
    hits: list[SearchHit] = []
    seen: set[tuple[int, int]] = set()
    for message_id, field, line, role, updated_at, conversation_id, title in rows:
        if (message_id, field) in seen:
            continue
        seen.add((message_id, field))
        snippet, spans = _snippet(line, patterns)
        hits.append(SearchHit(conversation_id, title, message_id, "thought" if field else role, snippet, spans,
                              updated_at))
        if len(hits) == limit:
            break
    return hits


def _like_escaped(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _snippet(line: str, patterns: list[re.Pattern]) -> tuple[str, tuple[tuple[int, int], ...]]:
    """The line (cut to about SNIPPET_CHARS around its first match, its indent dropped) and where the terms'
    matches are in it."""
    found = sorted((m.start(), m.end()) for p in patterns for m in p.finditer(line))
    begin = len(line) - len(line.lstrip(BLANK))
    if len(line) - begin > SNIPPET_CHARS and found:
        begin = max(begin, min(found[0][0] - SNIPPET_CHARS // 4, len(line) - SNIPPET_CHARS))
    end = min(len(line.rstrip(BLANK)), begin + SNIPPET_CHARS)
    head = "…" if line[:begin].strip(BLANK) else ""
    text = head + line[begin:end] + ("…" if line[end:].strip(BLANK) else "")
    spans: list[tuple[int, int]] = []
    for start, stop in found:
        start, stop = max(start, begin) - begin + len(head), min(stop, end) - begin + len(head)
        if start >= stop:
            continue
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(stop, spans[-1][1]))
        else:
            spans.append((start, stop))
    return text, tuple(spans)
