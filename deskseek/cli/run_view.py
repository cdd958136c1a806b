"""How `deskseek run` prints a streaming reply: thinking dimmed under a heading, then the answer.

Ctrl+C stops the generation, not the program: the reply so far is still printed (and still in --json),
because a long R1 thought cut short is often worth reading. On a terminal, formulas print as readable
Unicode (run_math.py); into a pipe, or with --raw-tex, the text is the model's own, byte for byte.
"""

from __future__ import annotations

import sys

from deskseek.engines import events as ev
from deskseek.engines.protocol import Stream

DIM, RESET, BOLD = "\x1b[2m", "\x1b[0m", "\x1b[1m"


class RunView:
    def __init__(self, *, json_output: bool, hide_thinking: bool, raw_tex: bool = False, out=None, err=None):
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.quiet = json_output
        self.hide_thinking = hide_thinking or json_output
        self.color = self.out.isatty()
        self.readable_math = self.color and not raw_tex
        self.math = None  # the section's TerminalMath: a formula never runs from the thought into the answer
        self.section = None  # "reasoning" | "answer"

    def follow(self, generation: Stream) -> ev.Reply:
        while True:
            try:
                event = generation.get()
                self._show(event)
                if isinstance(event, ev.Done):
                    self._end(generation.reply)
                    return generation.reply
            except KeyboardInterrupt:  # wherever it lands, it means "stop the reply", never "crash"
                generation.cancel()

    def _style(self, code: str) -> str:
        return code if self.color else ""

    def _text(self, text: str) -> str:
        """The model's text as printed: its formulas readable on a terminal."""
        if not self.readable_math:
            return text
        if self.math is None:
            from deskseek.cli.run_math import TerminalMath

            self.math = TerminalMath(unbold=lambda: "\x1b[22m" + (DIM if self.section == "reasoning" else ""))
        return self.math.feed(text)

    def _rest(self) -> str:
        """What the section's text still held back (a formula that never closed, as written)."""
        rest, self.math = (self.math.close() if self.math else ""), None
        return rest

    def _show(self, event) -> None:
        if isinstance(event, ev.ReasoningDelta) and not self.hide_thinking:
            if self.section != "reasoning":
                self.out.write(f"{self._style(BOLD)}Thinking…{self._style(RESET)}\n{self._style(DIM)}")
                self.section = "reasoning"
            self.out.write(self._text(event.text))
            self.out.flush()
        elif isinstance(event, ev.AnswerDelta) and not self.quiet:
            if self.section == "reasoning":
                self.out.write(f"{self._rest()}{self._style(RESET)}\n\n")
            self.section = "answer"
            self.out.write(self._text(event.text))
            self.out.flush()
        elif isinstance(event, ev.Notice):
            print(f"note: {event.message}", file=self.err)

    def _end(self, reply: ev.Reply) -> None:
        self.out.write(self._rest())
        if self.section == "reasoning":
            self.out.write(self._style(RESET))
        if not self.quiet and self.section is not None:
            self.out.write("\n")
            self.out.flush()
        if reply.finish_reason == "cancelled":
            print("(stopped)", file=self.err)
        elif not reply.thought_closed:
            print(f"note: {no_answer_advice(reply.finish_reason)}", file=self.err)
        if reply.stats and self.err.isatty() and not self.quiet:
            s = reply.stats
            steered = f" · {s.think_lang_steered} steered to your scripts" if s.think_lang_steered else ""
            drafts = f" · {s.drafts_taken()}" if s.drafted else ""
            print(f"{DIM}{s.completion_tokens} tokens · {s.gen_tok_s:.1f} tok/s · "
                  f"first token {s.ttft_s:.2f} s{steered}{drafts}{RESET}", file=self.err)


def no_answer_advice(finish_reason: str | None) -> str:
    """Why a reply has no answer, and what helps: only a reply cut at the length limit wants more tokens."""
    if finish_reason == "length":
        return ("the model never finished thinking, so there is no answer; raise --max-tokens (or -c) "
                "or set --think-budget")
    if finish_reason == "stop":
        return ("the model ended its reply inside its thought (or a --stop text did), so there is no answer; "
                "ask again, or set --think-budget to close the thought sooner")
    return "the reply ended inside the thought, so there is no answer"


class LoadingLine:
    """"loading NAME (SIZE) 42%" on one line of a terminal's stderr while llama.cpp reads the weights.

    A 70B model takes minutes to load; silence looks like a hang. Nothing is printed on a pipe or with --json,
    and the line is erased once the model is ready, so the reply starts on a clean line.
    """

    def __init__(self, name: str, size: int, err=None):
        from deskseek.units import human_bytes

        self.err = err or sys.stderr
        self.label = f"loading {name} ({human_bytes(size)})"
        self.shown = -1

    def note(self, text: str) -> None:
        self.err.write(f"\r\x1b[K{DIM}{text}{RESET}")
        self.err.flush()

    def update(self, fraction: float) -> None:
        percent = int(fraction * 100)
        if percent != self.shown:
            self.shown = percent
            self.note(f"{self.label} {percent}%")

    def done(self) -> None:
        self.err.write("\r\x1b[K")
        self.err.flush()
