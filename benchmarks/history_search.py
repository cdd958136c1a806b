"""History search at scale, and what the search index costs a streamed reply (issue #19).

Generates 10,000 conversations (four messages each: two prompts, two replies with thoughts, lines in
English, Korean, Chinese and Japanese) into a temporary history through the history's own write path,
then, in the same run:

1. times `History.search` (what `deskseek history search` runs) for words rare, common and absent, of
   three characters or more (the trigram index) and of one or two (the trigrams they start, or a LIKE
   scan for a common one), a CJK phrase and two words at once; target < 100 ms each. The whole `deskseek history search` command is timed too (Python's start and
   imports included), for scale.
2. times a streamed reply's writes (every add_reasoning/add_answer call and the timed flushes, 3,000
   tokens at 30 tokens a second on a simulated clock: a flush a second, as in the chat) with the index
   and without it (index_message replaced by a no-op), interleaved, into the same 10,000-chat file;
   target: the index adds < 10%.

    DESKSEEK_CPU_AMX=off python benchmarks/history_search.py [--conversations N]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from deskseek.chat import history as history_module
from deskseek.chat.history import History
from deskseek.chat.records import now

WORDS = {
    "en": "the model thinks about rivers salt water light energy because therefore maybe answer check".split(),
    "ko": "바다 바다에 하늘 사람 생각 물 소금 강 빛 에너지 그래서 아마 답".split(),
    "zh": "我们 海洋 河流 盐 水 光 能量 因为 所以 也许 回答".split(),
    "ja": "今日は 海 川 塩 水 光 エネルギー だから たぶん 答え".split(),
}
QUERIES = [("rare word", "zanzibar"), ("common word", "rivers"), ("absent 3+ chars", "volcano"),
           ("common 2-char Korean", "소금"), ("common 1-char", "a"), ("rare 1-char", "섬"), ("absent 1-char", "뫼"),
           ("CJK phrase", "海洋"), ("Japanese 3+", "エネルギー"), ("two words", "rivers salt")]


def text(rng: random.Random, lines: int, words: int) -> str:
    out = []
    for _ in range(lines):
        lang = rng.choice(list(WORDS))
        out.append(" ".join(rng.choice(WORDS[lang]) for _ in range(words)))
    return "\n".join(out)


def generate(path: Path, conversations: int) -> None:
    rng = random.Random(19)
    h = History(path)
    started = time.perf_counter()
    batch = 500
    for first in range(0, conversations, batch):
        with h._write() as db:  # the real insert path (index_message included), 500 chats a transaction
            for i in range(first, min(first + batch, conversations)):
                stamp = now()
                cid = db.execute("INSERT INTO conversations (title, model, created_at, updated_at) "
                                 "VALUES (?, 'bench', ?, ?)", (f"chat {i}", stamp, stamp)).lastrowid
                for _ in range(2):
                    h._insert(db, cid, "user", text(rng, 2, 8), "", "complete", None)
                    h._insert(db, cid, "assistant", text(rng, 8, 12), text(rng, 6, 12), "complete", "bench")
                if i == conversations // 2:  # one rare word (and one rare letter), in the middle of the history
                    h._insert(db, cid, "user", "what about zanzibar? 섬", "", "complete", None)
    h.close()
    size = path.stat().st_size / 2**20
    print(f"generated {conversations} conversations in {time.perf_counter() - started:.1f} s ({size:.0f} MiB)")


def time_searches(path: Path) -> list[tuple[str, float, int]]:
    out = []
    with History(path) as h:
        for label, query in QUERIES:
            times, hits = [], 0
            for _ in range(7):
                started = time.perf_counter()
                hits = len(h.search(query, 20))
                times.append(time.perf_counter() - started)
            out.append((label, statistics.median(times) * 1000, hits))
    return out


def time_cli(path: Path) -> float:
    env = {**os.environ, "DESKSEEK_HOME": str(path.parent)}
    times = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "deskseek.cli", "history", "search", "rivers", "--json"], env=env,
                       check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def stream_once(path: Path, tokens: int, rng: random.Random) -> float:
    """One reply streamed into the history: the seconds spent in its write calls."""
    clock = Clock()
    with History(path, clock=clock) as h:
        cid = h.new_conversation("bench")
        h.add_message(cid, "user", "tell me about the sea")
        spent = 0.0
        reply = h.start_reply(cid, "bench")
        for i in range(tokens):
            lang = rng.choice(list(WORDS))
            piece = rng.choice(WORDS[lang]) + ("\n" if rng.random() < 0.06 else " ")
            clock.now += 1 / 30  # 30 tokens a second: a flush each second
            started = time.perf_counter()
            reply.add_reasoning(piece) if i < tokens // 2 else reply.add_answer(piece)
            spent += time.perf_counter() - started
        started = time.perf_counter()
        reply.finish("complete")
        spent += time.perf_counter() - started
    return spent


def time_streaming(path: Path, tokens: int = 3000, rounds: int = 7) -> tuple[list[float], list[float]]:
    indexed, plain = [], []
    real = history_module.index_message
    for i in range(rounds):  # interleaved, so a busy moment on the machine hits both alike
        for index in (True, False) if i % 2 == 0 else (False, True):
            history_module.index_message = real if index else (lambda *args: None)
            try:
                (indexed if index else plain).append(stream_once(path, tokens, random.Random(i)))
            finally:
                history_module.index_message = real
    return indexed, plain


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "history.sqlite3"
        generate(path, args.conversations)
        print(f"\nhistory search over {args.conversations} conversations (median of 7, limit 20):")
        for label, ms, hits in time_searches(path):
            print(f"  {label:<33} {ms:7.1f} ms  {hits:>2} hits  ({ms / 100:.2f} of the 100 ms target)")
        print(f"  `deskseek history search rivers --json`, the whole command: {time_cli(path):.0f} ms")
        indexed, plain = time_streaming(path)
        print("\na streamed reply's writes (3,000 tokens, a flush a second, 7 rounds each, interleaved):")
        for name, pick in (("fastest", min), ("median", statistics.median)):
            with_index, without = pick(indexed), pick(plain)
            print(f"  {name:<8} with the index {with_index * 1000:6.1f} ms, without {without * 1000:6.1f} ms: ratio "
                  f"{with_index / without:.3f} (the index adds {100 * (with_index / without - 1):5.1f}%; target < 10%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
