"""The chat app's model: loading one (picked, pulled, or from the command line), its progress, ready or failed.

A mixin of DeskseekApp, kept apart because it is one concern with its own messages: the session does the
switch (stop the reply, close the old model, plan, load) on a thread worker; these handlers show it.
"""

from __future__ import annotations

from textual import work
from textual.widgets import Static
from textual.worker import get_current_worker

from deskseek.engines.local import Engine
from deskseek.tui.catalog import ModelRequest
from deskseek.tui.messages import LoadProgress, ModelFailed, ModelReady
from deskseek.tui.widgets.prompt import PromptArea
from deskseek.tui.widgets.status import NO_MODEL, StatusBar
from deskseek.tui.widgets.turn import UserTurn


class ModelLoading:
    def use_model(self, name: str | None) -> None:
        """Load a model (picked, or just pulled) with the flags the chat was started with; the session
        stops the reply in flight and closes the old model first, on the worker."""
        if not name or (name == self.session.model and self.session.engine is not None):
            return
        status = self.query_one(StatusBar)
        status.model, status.context, status.speed = f"loading {name}…", "", ""
        self.loading = True
        self.load_model(name)

    @work(thread=True, group="load")
    def load_model(self, name: str) -> None:
        worker = get_current_worker()  # cancelled as the app quits: the load stops at its next progress report
        try:
            loaded = self.session.load(name, lambda model, keep_going: self._load(
                model, lambda: keep_going() and not worker.is_cancelled))
        except Exception as err:  # shown in the app, never as a traceback
            self.post_message(ModelFailed(name, str(err)))
            return
        if loaded:
            self.post_message(ModelReady(name, self.session.model_info))

    def _load(self, name: str, keep_going) -> tuple[Engine, ModelRequest]:
        """Plan (now that the old model is closed, so its memory counts as free) and load; on the worker."""
        from deskseek.tui import catalog

        first, self.first_request = self.first_request, None
        request = first if first is not None and first.name == name else catalog.request_for(self.flags, name)

        def progress(fraction: float) -> bool:
            self.post_message(LoadProgress(name, fraction))
            return keep_going()

        if request.server is not None:  # the model runs on the server: nothing to load here
            from deskseek.engines.remote import RemoteEngine

            return RemoteEngine(request.server), request
        engine = self.engine_factory(
            request.path, n_ctx=request.n_ctx, n_threads=request.n_threads, n_gpu_layers=request.gpu_layers,
            reasoning=request.reasoning, allow_system=request.allow_system, cpu_patterns=request.cpu_patterns,
            cache_type_k=request.cache_type_k, cache_type_v=request.cache_type_v, flash_attn=request.flash_attn,
            on_progress=progress, **({"draft": request.draft, "draft_gpu_layers": request.draft_gpu_layers}
                                     if request.draft is not None else {}),
        )
        return engine, request

    def on_load_progress(self, message: LoadProgress) -> None:
        self.query_one(StatusBar).model = f"loading {message.name}… {message.fraction:.0%}"

    def on_model_ready(self, message: ModelReady) -> None:
        engine = self.session.engine
        if message.name != self.session.model or engine is None:
            return  # overtaken by a newer pick
        self.request = request = message.info
        self.session.use_model_defaults(request.settings)
        status = self.query_one(StatusBar)
        status.model, status.backend, status.placement = message.name, request.backend, request.placement
        status.context = f"ctx {engine.n_ctx}" if engine.n_ctx else ""
        self.loading = False
        if self.pending:
            text, self.pending = self.pending, None
            users = self.query_one("#conversation").query(UserTurn)
            self.start_reply(text, shown=users.last() if users else None)

    def on_model_failed(self, message: ModelFailed) -> None:
        self.loading = False
        self.query_one(StatusBar).model = NO_MODEL
        if self.pending is not None:  # the waiting prompt goes back where it was typed
            text, self.pending = self.pending, None
            users = self.query_one("#conversation").query(UserTurn)
            if users and users.last().turn is None:
                users.last().remove()
            self.query_one(PromptArea).give_back(text)
        self.query_one("#conversation").mount(Static(f"Could not load {message.name}: {message.error}",
                                                     classes="error", markup=False))
        if self.flags is not None:  # started from the command line: offer the other installed models
            from deskseek.tui import catalog

            others = [row for row in catalog.picker_rows(self.flags) if row[0] != message.name]
            if others:
                from deskseek.tui.screens.model_picker import ModelPicker

                self.push_screen(ModelPicker(others, message.name), self.use_model)
