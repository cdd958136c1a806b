"""The status line: model, backend, placement, context use, and the last reply's speed."""

from __future__ import annotations

from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Static

NO_MODEL = "no model (Ctrl+O picks one)"  # the one thing to do next, where the model's name would be


class StatusBar(Static):
    model: reactive[str] = reactive(NO_MODEL)
    backend: reactive[str] = reactive("")
    placement: reactive[str] = reactive("")
    context: reactive[str] = reactive("")
    speed: reactive[str] = reactive("")

    def render(self) -> Content:
        parts = [self.model, self.backend, self.placement, self.context, self.speed]
        return Content(" · ".join(part for part in parts if part))  # text: a model's name may hold brackets
