"""Finding anything said in any chat: the search index and the queries over it.

`message_lines` holds each stored message's non-blank lines (field 0: its content, 1: its thought), and an
FTS5 table with the trigram tokenizer indexes them (records.py, schema v6). The history writes both in the
same transaction that stores the message in its final form: a prompt as it is added, a reply when it
ends (finished, stopped, failed, or found interrupted by recovery after its process died); deleting a
message deletes its lines by the foreign key's cascade, and a trigger takes them out of the FTS table.

A reply still streaming is rewritten every second (reply_writer.py), and indexing its growing text at each
write cost those writes several times over (benchmarks/history_search.py). So until it ends it is not in
the index: `search` reads the rows still streaming (one or two; a partial index on `state` finds them)
line by line. What a search sees is therefore always what is stored, at every commit, a `kill -9`
included: recovery indexes the saved part in the transaction that marks it interrupted.

The index is per line, not per message: a hit is shown as its line anyway, and a long reply's lines are
indexed once each, never re-learnt whole when one of them changes.

Trigrams find text inside words in every script: `바다` in `바다에`, Chinese and Japanese without spaces,
`vital` in `revitalise`, case-insensitively (the tokenizer folds case, Unicode-wide). A term shorter than
three characters is not a trigram; but every line is indexed with two newlines after it, so each of its
occurrences starts one (`바다` starts `바다에`, `바다\n`), and the index's vocabulary lists those trigrams
in order: a rare short term is found through the few it starts, an absent one at once. A common one
(starting more than SHORT_TERM_TRIGRAMS trigrams) is matched by a LIKE scan of the lines, newest first,
which stops at the limit after a few rows. LIKE folds case for ASCII letters only, so a one- or two-letter
non-ASCII term (`Éa`) is matched as typed.

The query is taken literally: it is split on spaces into terms, each quoted for FTS5 (quotes doubled) or
escaped for LIKE, so `"`, `*`, `-`, `AND` or `NEAR(` are text to find, never syntax. A line matches when it
holds every term. (Where SQLite predates the trigram tokenizer, every term goes the LIKE way: records.py.)
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from itertools import chain

BLANK = " \t\r"  # a line of only these is not indexed (records.py's migration skips the same)
SNIPPET_CHARS = 100  # a long line is cut to about this much around its first match
FIELDS = ("content", "reasoning")
SHORT_TERM_TRIGRAMS = 64  # a short term starting more trigrams than this is looked for by LIKE instead


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

    Call inside the transaction that stores the message in its final form (a prompt, a finished reply, one
    recovery marks interrupted). New lines reach the FTS table in one statement, not one trigger per line.
    """
    for field, text in ((1, reasoning), (0, content)):  # the thought came first: its lines get the lower ids
        stored = dict(db.execute("SELECT line, text FROM message_lines WHERE message_id = ? AND field = ?",
                                 (message_id, field)).fetchall())
        wanted = lines(text)
        gone = [(message_id, field, number) for number in stored.keys() - wanted.keys()]
        db.executemany("DELETE FROM message_lines WHERE message_id = ? AND field = ? AND line = ?", gone)
        db.executemany("UPDATE message_lines SET text = ? WHERE message_id = ? AND field = ? AND line = ?",
                       [(line, message_id, field, n) for n, line in wanted.items() if stored.get(n, line) != line])
        new = [(message_id, field, n, line) for n, line in wanted.items() if n not in stored]
        if new:
            after = db.execute("SELECT COALESCE(MAX(id), 0) FROM message_lines").fetchone()[0]
            db.executemany("INSERT INTO message_lines (message_id, field, line, text) VALUES (?, ?, ?, ?)", new)
            db.execute("INSERT INTO message_search (rowid, text) SELECT id, text FROM message_lines_padded "
                       "WHERE id > ?", (after,))


def index_stored(db: sqlite3.Connection, message_ids: list[int]) -> None:
    """Index messages as they are stored: replies that stopped streaming because their writer died."""
    for message_id in message_ids:
        row = db.execute("SELECT content, reasoning FROM messages WHERE id = ?", (message_id,)).fetchone()
        if row:
            index_message(db, message_id, *row)


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
    trigrams = _has_trigrams(db)
    long = [term for term in terms if len(term) >= 3 and trigrams]
    short = [term for term in terms if term not in long]
    likes = " ".join("AND l.text LIKE ? ESCAPE '\\'" for _ in short)
    like_values = [f"%{_like_escaped(term)}%" for term in short]
    match = " AND ".join(_quoted(term) for term in long) or None
    if match is None and trigrams:
        match = _short_match(db, short)
    if match == "":
        return _gather(_streaming(db, terms), terms, limit)  # a short word no stored line holds
    if match:
        rows = db.execute(
            f"""SELECT {_HIT_COLUMNS} JOIN message_search s ON s.rowid = l.id
                WHERE message_search MATCH ? {likes} ORDER BY s.rowid DESC""",
            [match, *like_values],
        )
    else:
        rows = db.execute(f"SELECT {_HIT_COLUMNS} WHERE 1 {likes} ORDER BY l.id DESC", like_values)
    return _gather(chain(_streaming(db, terms), rows), terms, limit)


def _gather(rows, terms: list[str], limit: int) -> list[SearchHit]:
    """Hits from matching lines, newest first: one per message and field, up to `limit`."""
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


def _quoted(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _short_match(db: sqlite3.Connection, short: list[str]) -> str | None:
    """A MATCH for the lines holding the rarest short term, from the trigrams it starts (each line is indexed
    with two newlines after it, so every occurrence starts one): "" when no line holds it, None when it
    starts too many trigrams to ask for (a common letter: the LIKE scan then stops early, newest first).

    The vocabulary holds trigrams folded to lower case: a term that lower-casing lengthens (`İ`) is left
    to the LIKE scan rather than risk missing it.
    """
    best: list[str] | None = None
    for term in short:
        folded = term.lower()
        if len(folded) != len(term) or folded[-1] == chr(0x10FFFF):
            continue
        end = folded[:-1] + chr(ord(folded[-1]) + 1)
        starts = [row[0] for row in db.execute(
            "SELECT term FROM message_search_terms WHERE term >= ? AND term < ? LIMIT ?",
            (folded, end, SHORT_TERM_TRIGRAMS + 1))]
        if not starts:
            return ""
        if len(starts) <= SHORT_TERM_TRIGRAMS and (best is None or len(starts) < len(best)):
            best = starts
    return None if best is None else " OR ".join(_quoted(trigram) for trigram in best)


def _streaming(db: sqlite3.Connection, terms: list[str]) -> list[tuple]:
    """Lines of replies still streaming that hold every term, newest first, as rows like the index's.

    A streaming reply is indexed when it ends (or when recovery finds its writer dead), not at each of its
    once-a-second writes (see the module's docstring); until then it is read here, straight from its row.
    """
    patterns = [re.compile(re.escape(term), re.IGNORECASE) for term in terms]
    found = []
    for message_id, content, reasoning, role, updated_at, conversation_id, title in db.execute(
            """SELECT m.id, m.content, m.reasoning, m.role, m.updated_at, m.conversation_id, c.title FROM messages m
               JOIN conversations c ON c.id = m.conversation_id WHERE m.state = 'streaming' ORDER BY m.id DESC"""):
        for field, text in ((0, content), (1, reasoning)):
            for line in reversed(lines(text).values()):
                if all(pattern.search(line) for pattern in patterns):
                    found.append((message_id, field, line, role, updated_at, conversation_id, title))
    return found


def _has_trigrams(db: sqlite3.Connection) -> bool:
    """Whether the index was made with the trigram tokenizer (records.SEARCH_TOKENIZER: not on SQLite < 3.34)."""
    row = db.execute("SELECT sql FROM sqlite_master WHERE name = 'message_search'").fetchone()
    return bool(row) and "trigram" in row[0]


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
