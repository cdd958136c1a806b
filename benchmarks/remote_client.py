"""The remote engine's own cost: per streamed token beside reading the raw stream, and Enter to the first token
on screen beside the server's own time to first token.

    .venv/bin/python benchmarks/remote_client.py [--tokens 20000] [--runs 5] [--ttft 0.2] [--prompts 5]

The server is our test server (tests/fixtures/inference_servers.py) in a child process of its own, so its
work never shares this process's CPU or GIL: llama-server's wire format, one SSE chunk per token, half of
the reply as `reasoning_content`, half as `content`, sent as fast as the server can write.

1. Per token. Each contender asks for the same reply over its own connection, with the same HTTP library
   (the standard library's http.client, which deskseek uses):
   - raw: read the body with read1() until it ends, doing nothing with it: the floor for that library;
   - raw + parse: also split the SSE events and json.loads each one: what any client must do at least;
   - deskseek: RemoteEngine.generate(...).wait(), every event made, routed through the thought router and
     the stop matcher, queued to the reading thread and gathered into a Reply, as `run` does.
   Overhead per token = (deskseek - raw) / tokens, in this process's CPU time (both of deskseek's threads;
   the server runs elsewhere) and in wall time. Median of --runs. Target: under 0.2 ms a token.
2. Enter to first token. The real chat app, headless (100x32), on a RemoteEngine, against the server set
   to take --ttft seconds before its first token (its `timings.prompt_ms`, the figure llama-server gives
   for its own prompt processing). From the Enter key to the first frame that holds the thought's first
   text (App._display wrapped, as benchmarks/ui_streaming.py does), beside the server's own time; the
   client's own `ttft_s` (request to first token, no screen) separates the wire from the screen.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import http.client
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from deskseek.engines import events as ev  # noqa: E402
from deskseek.engines import remote_target  # noqa: E402
from deskseek.engines.remote import RemoteEngine  # noqa: E402

SERVE = """
import sys, time
from tests.fixtures.inference_servers import Faults, InferenceServer, Script
tokens, delay = int(sys.argv[1]), float(sys.argv[2])
words = [" " + w for w in "the quick brown fox jumps over a lazy dog while thinking hard".split()]
script = Script(thought=[words[i % len(words)] for i in range(tokens // 2)],
                answer=[words[i % len(words)] for i in range(tokens - tokens // 2)])
with InferenceServer("llama-server", script=script, faults=Faults(first_token_delay_s=delay)) as server:
    print(server.port, flush=True)
    sys.stdin.read()  # until the benchmark closes our stdin
"""
UNSET = ev.Settings(temperature=None, top_p=None, top_k=None, min_p=None, repeat_penalty=None)
MESSAGES = [{"role": "user", "content": "Think it over, then answer."}]
MODEL = "DeepSeek-R1-Distill-Qwen-7B"


class Server:
    """The test server in a child process; its URL once it listens."""

    def __init__(self, tokens: int, delay: float):
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen([sys.executable, "-c", SERVE, str(tokens), str(delay)], cwd=ROOT, env=env,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.port = int(self.process.stdout.readline())
        self.url = f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)


def body() -> bytes:
    return json.dumps({"model": MODEL, "messages": MESSAGES, "stream": True,
                       "stream_options": {"include_usage": True}}).encode()


def raw(server: Server, parse: bool) -> tuple[float, float, int]:
    """(wall s, CPU s, events) reading the whole stream with http.client alone."""
    wall, cpu = time.perf_counter(), time.process_time()
    conn = http.client.HTTPConnection("127.0.0.1", server.port)
    conn.request("POST", "/v1/chat/completions", body=body(), headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    events, held = 0, b""
    while data := response.read1(65536):
        if parse:
            held += data
            *lines, held = held.split(b"\n")
            for line in lines:
                if line.startswith(b"data: ") and line != b"data: [DONE]":
                    json.loads(line[6:])
                    events += 1
    conn.close()
    return time.perf_counter() - wall, time.process_time() - cpu, events


def deskseek(engine: RemoteEngine) -> tuple[float, float, ev.Reply]:
    wall, cpu = time.perf_counter(), time.process_time()
    reply = engine.generate(MESSAGES, UNSET).wait()
    return time.perf_counter() - wall, time.process_time() - cpu, reply


def per_token(tokens: int, runs: int) -> dict:
    server = Server(tokens, 0.0)
    try:
        engine = RemoteEngine(remote_target.probe(remote_target.Target(url=server.url)))
        raw(server, False), deskseek(engine)  # warm both paths (imports, the server's first request)
        results = {"raw": [], "raw + parse": [], "deskseek": []}
        for _ in range(runs):
            results["raw"].append(raw(server, False)[:2])
            results["raw + parse"].append(raw(server, True)[:2])
            wall, cpu, reply = deskseek(engine)
            assert reply.error is None and reply.stats.completion_tokens == tokens, reply.error
            assert len(reply.reasoning) > 0 and len(reply.content) > 0
            results["deskseek"].append((wall, cpu))
        engine.close()
    finally:
        server.close()
    return {name: (statistics.median(w for w, _ in values), statistics.median(c for _, c in values))
            for name, values in results.items()}


async def enter_to_screen(delay: float, prompts: int) -> list[tuple[float, float, float]]:
    """(Enter -> first thought text in a frame, the client's ttft_s, the server's own), for each prompt."""
    from deskseek.chat.history import History
    from deskseek.cli.main import build_parser
    from deskseek.tui import catalog
    from deskseek.tui.app import DeskseekApp
    from deskseek.tui.widgets.prompt import PromptArea

    server = Server(40, delay)
    samples = []
    try:
        flags = build_parser().parse_args(["chat", "--server", server.url])
        app = DeskseekApp(catalog.request_for(flags, None), history=History(ephemeral=True), flags=flags)
        async with app.run_test(size=(100, 32)):
            shown: list[float] = []
            before: list = [None]  # the turn on screen before Enter: its text is not the new reply's
            original = app._display

            def display(screen, renderable) -> None:
                original(screen, renderable)
                turn = app.turn
                if (renderable is not None and not shown and turn is not None and turn is not before[0]
                        and turn.thinking is not None and turn.thinking.body.rendered_chars > 0):
                    shown.append(time.perf_counter())

            app._display = display
            while app.session.engine is None:
                await asyncio.sleep(0.02)
            for index in range(prompts):
                app.query_one(PromptArea).text = f"Question {index}: think it over."
                await asyncio.sleep(0.2)
                shown.clear()
                before[0], previous = app.turn, app.session.live
                enter = time.perf_counter()
                press_enter(app)
                while not shown or app.session.live is previous or not app.session.live.done.is_set():
                    await asyncio.sleep(0.005)
                while app.live is not None:  # the app has shown the whole reply
                    await asyncio.sleep(0.02)
                live = app.session.live
                samples.append((shown[0] - enter, live.reply.stats.ttft_s, live.generation.counts["server_ttft_s"]))
    finally:
        server.close()
    return samples


def press_enter(app) -> None:
    from textual import events

    event = events.Key("enter", "\r")
    event.set_sender(app)
    app._driver.send_message(event)


def environment() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return f"{os.cpu_count()} cores ({cpu}), load average {load}; Python {platform.python_version()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=20_000, help="tokens in the reply: half thought, half answer")
    parser.add_argument("--runs", type=int, default=5, help="runs of each contender (the median is shown)")
    parser.add_argument("--ttft", type=float, default=0.2, help="the server's own time to first token, seconds")
    parser.add_argument("--prompts", type=int, default=5, help="prompts sent in the chat app")
    args = parser.parse_args()
    print(environment())

    timing = per_token(args.tokens, args.runs)
    print(f"\n1. {args.tokens} streamed tokens, median of {args.runs} (this process's CPU; the server runs apart)")
    print(f"{'contender':<14} {'wall s':>8} {'CPU s':>8} {'CPU us/token':>13} {'x raw CPU':>10}")
    base_wall, base_cpu = timing["raw"]
    for name, (wall, cpu) in timing.items():
        print(f"{name:<14} {wall:>8.3f} {cpu:>8.3f} {cpu / args.tokens * 1e6:>13.1f} {cpu / base_cpu:>9.2f}x")
    wall, cpu = timing["deskseek"]
    over_cpu = (cpu - base_cpu) / args.tokens * 1e3
    over_wall = (wall - base_wall) / args.tokens * 1e3
    print(f"deskseek's overhead per token: {over_cpu:.3f} ms CPU, {over_wall:.3f} ms wall "
          f"(target < 0.2 ms: {'PASS' if max(over_cpu, over_wall) < 0.2 else 'FAIL'})")

    samples = asyncio.run(enter_to_screen(args.ttft, args.prompts))
    say = functools.partial(print, file=sys.__stdout__, flush=True)  # past the app, sys.stdout is not ours
    screen = statistics.median(s for s, _, _ in samples)
    client = statistics.median(c for _, c, _ in samples)
    own = statistics.median(o for _, _, o in samples)
    say(f"\n2. Enter to first token on screen, the chat app headless, median of {len(samples)} prompts")
    say(f"server's own time to first token  {own * 1e3:8.1f} ms")
    say(f"request to first token (client)   {client * 1e3:8.1f} ms  ({client / own:.2f}x the server's)")
    say(f"Enter to first token on screen    {screen * 1e3:8.1f} ms  ({screen / own:.2f}x the server's; "
          f"+{(screen - own) * 1e3:.1f} ms)")
    say("samples (screen, client, server) ms: " + "; ".join(
        f"{s * 1e3:.0f}/{c * 1e3:.0f}/{o * 1e3:.0f}" for s, c, o in samples))
    return 0


if __name__ == "__main__":
    sys.exit(main())
