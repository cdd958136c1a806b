"""SVG snapshots of the chat's main states (pytest-textual-snapshot).

Pixel-identical runs need the same words every time on every machine, so these replies come from the
scripted engine (tests/fixtures/scripted_engine.py) on a clock that never moves; the Pilot tests in
test_app.py cover the same states on the real engine. Update with `pytest --snapshot-update` and review
the SVGs like code.
"""

from __future__ import annotations

import threading

import pytest

from deskseek.tui.app import DeskseekApp
from deskseek.tui.widgets.prompt import PromptArea
from deskseek.tui.widgets.thinking import ThinkingPane, ThoughtHeader
from tests.fixtures.scripted_engine import r1_reply, scripted_app

THOUGHT = ("The user asks for 6 times 7. Six sevens: 7, 14, 21, 28, 35, 42. So the product is 42. "
           "Let me double-check: 6 x 7 = 42. Yes.")
ANSWER = "**42.**\n\nSix times seven:\n\n```python\nprint(6 * 7)  # 42\n```\n"


class FixedClock:
    def __call__(self) -> float:
        return 500.0


def make_app(script, *, hold=None, reasoning=True, name="deepseek-r1-distill (test)", history=None) -> DeskseekApp:
    return scripted_app(script, hold=hold, reasoning=reasoning, clock=FixedClock(), name=name, backend="cpu",
                        placement="CPU", history=history)


async def ask(pilot, text: str, *, wait_done: bool = True) -> None:
    app = pilot.app
    app.query_one(PromptArea).cursor_blink = False
    while app.session.engine is None:
        await pilot.pause(0.02)
    app.query_one(PromptArea).text = text
    await pilot.press("enter")
    if wait_done:
        while app.live is not None:
            await pilot.pause(0.02)
    await pilot.pause(0.3)


def test_thinking_in_progress(snap_compare):
    hold = threading.Event()
    app = make_app(lambda messages: r1_reply(THOUGHT, ANSWER, closed=False), hold=hold)

    async def run_before(pilot):
        await ask(pilot, "What is 6 times 7?", wait_done=False)
        while not (pilot.app.query(ThinkingPane) and pilot.app.query_one(ThinkingPane).text.endswith("Yes.")):
            await pilot.pause(0.02)
        await pilot.pause(0.3)

    try:
        assert snap_compare(app, terminal_size=(100, 30), run_before=run_before)
    finally:
        hold.set()


def test_collapsed_thought(snap_compare):
    app = make_app(lambda messages: r1_reply(THOUGHT, ANSWER))
    assert snap_compare(app, terminal_size=(100, 30), run_before=lambda pilot: ask(pilot, "What is 6 times 7?"))


def test_expanded_thought(snap_compare):
    app = make_app(lambda messages: r1_reply(THOUGHT, ANSWER))

    async def run_before(pilot):
        await ask(pilot, "What is 6 times 7?")
        pilot.app.query_one(ThoughtHeader).focus()
        await pilot.press("enter")
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=(100, 30), run_before=run_before)


def test_stopped_reply(snap_compare):
    hold = threading.Event()
    app = make_app(lambda messages: r1_reply(THOUGHT, ANSWER), hold=hold)

    async def run_before(pilot):
        await ask(pilot, "What is 6 times 7?", wait_done=False)
        while not pilot.app.query(ThinkingPane) or not pilot.app.query_one(ThinkingPane).text.endswith("Yes."):
            await pilot.pause(0.02)
        await pilot.press("escape")
        hold.set()
        while pilot.app.live is not None:
            await pilot.pause(0.02)
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(100, 30), run_before=run_before)


def test_never_closed_thought(snap_compare):
    app = make_app(lambda messages: r1_reply(THOUGHT, "", closed=False))
    assert snap_compare(app, terminal_size=(100, 30), run_before=lambda pilot: ask(pilot, "Think about it."))


def test_help_screen(snap_compare):
    app = make_app(lambda messages: r1_reply(THOUGHT, ANSWER))

    async def run_before(pilot):
        pilot.app.query_one(PromptArea).cursor_blink = False
        await pilot.press("f1")
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=(100, 30), run_before=run_before)


def test_help_screen_at_40x24(snap_compare):
    """A narrow terminal: the box takes the width, the right column wraps, the rest scrolls."""
    app = make_app(lambda messages: r1_reply(THOUGHT, ANSWER))

    async def run_before(pilot):
        pilot.app.query_one(PromptArea).cursor_blink = False
        await pilot.press("f1")
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=(40, 24), run_before=run_before)


def test_korean_at_40x24(snap_compare):
    """At 40 columns the conversation panel hides by itself: the reply gets the whole width."""
    thought = "사용자가 서울의 인구를 묻고 있다. 약 940만 명이다."
    answer = "서울의 인구는 **약 940만 명**입니다. 수도권 전체로는 약 2,600만 명이 살고 있습니다.\n"
    app = make_app(lambda messages: r1_reply(thought, answer))
    assert snap_compare(app, terminal_size=(40, 24),
                        run_before=lambda pilot: ask(pilot, "서울의 인구는 얼마인가요? 짧게 답해 주세요."))


def test_settings_with_a_pasted_system_prompt(snap_compare):
    """The whole pasted prompt in its box (an Input kept the first line), the four numbers two a row."""
    from textual import events

    app = make_app(lambda messages: r1_reply(THOUGHT, ANSWER))

    async def run_before(pilot):
        while pilot.app.session.engine is None:
            await pilot.pause(0.02)
        await pilot.press("ctrl+s")
        await pilot.pause(0.2)
        system = pilot.app.screen.query_one("#set-system")
        system.cursor_blink = False
        system.focus()
        pilot.app.post_message(events.Paste("You are terse.\nAnswer in one word.\n\nNever apologise.\n"))
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=(100, 30), run_before=run_before)


def test_search_results(snap_compare):
    """Ctrl+F and a word: each hit is its chat's title and the matching line, the match in reverse video."""
    from deskseek.chat.history import History

    history = History(ephemeral=True)
    for prompt, answer, thought in [
        ("나는 바다에 가고 싶다", "바다는 넓고 푸릅니다. 동해 바다가 특히 맑아요.", "The user wants the sea."),
        ("Why is the sea salty?", "Rivers carry minerals into the sea; water leaves, salt stays.",
         "바다 salt: rivers, evaporation."),
        ("What is 6 times 7?", "42.", "Six sevens."),
    ]:
        cid = history.new_conversation("deepseek-r1-distill (test)")
        history.add_message(cid, "user", prompt)
        history.add_message(cid, "assistant", answer, reasoning=thought)
    app = make_app(lambda messages: r1_reply(THOUGHT, ANSWER), history=history)

    async def run_before(pilot):
        pilot.app.query_one(PromptArea).cursor_blink = False
        while pilot.app.session.engine is None:
            await pilot.pause(0.02)
        await pilot.press("ctrl+f")
        pilot.app.query_one("#panel-search").cursor_blink = False
        await pilot.press(*"바다")
        await pilot.pause(0.5)

    assert snap_compare(app, terminal_size=(100, 30), run_before=run_before)


def test_korean_at_80x24(snap_compare):
    thought = "사용자가 서울의 인구를 묻고 있다. 약 940만 명이다. 🙂 확인: 2024년 기준."
    answer = "서울의 인구는 **약 940만 명**입니다. 🇰🇷\n\n- 수도: 서울\n- 면적: 605 km²\n"
    app = make_app(lambda messages: r1_reply(thought, answer))

    async def run_before(pilot):
        await ask(pilot, "서울의 인구는 얼마인가요? 한국어로 짧게 답해 주세요. 😀")
        pilot.app.query_one(ThoughtHeader).focus()
        await pilot.press("enter")
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_first_run_screen(snap_compare, home):
    """A 32 GB M2 Pro (the facts hardware.detect reads there): the 14B distill preselected, with why."""
    from textual.app import App

    from deskseek.models import registry
    from deskseek.tui import catalog
    from deskseek.tui.screens.first_run import FirstRunScreen
    from tests.placement.test_recommend import mac

    offers = catalog.first_run_offers(mac(32, 200, "M2 Pro"), registry.parse(*registry._packaged_text()))

    class FirstRun(App):
        """Only the screen, on the app's stylesheet: the offers fixed here, not read from this machine."""

        CSS_PATH = DeskseekApp.CSS_PATH

        def on_mount(self) -> None:
            self.push_screen(FirstRunScreen(offers, check_hub=False))

    app = FirstRun()

    async def run_before(pilot):  # the screen is pushed on mount: wait until it is the one showing
        while not isinstance(pilot.app.screen, FirstRunScreen):
            await pilot.pause(0.02)
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(110, 28), run_before=run_before)


@pytest.fixture
def home(home):  # the first-run snapshot must not depend on a user's registry
    return home


MATH_THOUGHT = ("Three fair coins: $2^3 = 8$ outcomes. Two heads in \\(\\binom{3}{2} = 3\\) of them, "
                "so \\(P = \\frac{3}{8}\\).")
MATH_ANSWER = ("There are \\(2^3 = 8\\) equally likely outcomes, and \\(\\binom{3}{2} = 3\\) of them have exactly "
               "two heads:\n\n\\[\nP = \\frac{\\binom{3}{2}}{2^3} = \\frac{3}{8} \\approx 0.375\n\\]\n\n"
               "A $5 bet pays $10, and `echo $HOME` stays code.\n\n"
               "**Final Answer**\n\\[\n\\boxed{\\dfrac{3}{8}}\n\\]\n")


def test_math_answer(snap_compare):
    """R1's TeX as a terminal can show it: inline formulas in Unicode, display math centred, the answer framed."""
    app = make_app(lambda messages: r1_reply(MATH_THOUGHT, MATH_ANSWER))

    async def run_before(pilot):
        await ask(pilot, "Three fair coins are tossed. What is the probability of exactly two heads?")
        pilot.app.query_one(ThoughtHeader).focus()
        await pilot.press("enter")
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=(100, 34), run_before=run_before)
