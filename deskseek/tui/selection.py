"""Copying without the mouse: the copy keys, and a selection mode that walks the transcript item by item.

A mixin of DeskseekApp (like model_loading.py): one concern, kept out of app.py. Ctrl+Y copies the last
answer, Ctrl+K the last code block; Ctrl+G enters selection mode, where a bar above the prompt takes the
focus and its keys (tui/keys.py SELECTION_BINDINGS) move a highlight through every user prompt, thought,
answer and code block, scroll it into view, and copy it.

What is copied is the text the model wrote, never the rendered Markdown: a prompt and an answer come from
the session's turns (the history's rows) once they are complete, a reply still streaming from what its
widget received, which is the same text. An answer never includes its thought; a code block comes without
its fences. The item list is read again at every key and twice a second, so a reply that streams on while
the bar is open adds its blocks, one written again replaces its own, and a cleared conversation ends the mode.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.widget import Widget
from textual.widgets import Static
from textual.widgets.markdown import MarkdownFence

from deskseek.chat.attach import shown
from deskseek.tui import keys
from deskseek.tui.clipboard import CodeBlock, code_blocks, copy
from deskseek.tui.widgets.prompt import PromptArea
from deskseek.tui.widgets.turn import AssistantTurn, UserTurn

SELECTED = "-selected"  # the highlighted widget's class (app.tcss)
FENCE_TRIES = 20  # a code block's fence is looked for this often, 50 ms apart, while its segment is drawn again


@dataclass(frozen=True)
class Item:
    kind: str  # "prompt" | "thought" | "answer" | "code"
    label: str  # what the bar calls it: "answer 2", "code block 1 of answer 2 (python, 3 lines)"
    text: str  # what copying it gives
    widget: Widget  # highlighted and scrolled to (a code block: its answer, until its fence is found)
    key: tuple  # the same item across rebuilds of the list: its turn's widget (by identity) and what it is
    what: str  # what the copy note calls it: "The answer", "Code block (python, 3 lines)"
    fence: tuple[CodeBlock, int, float] | None = None  # a code block, which of the answer's blocks with its
    # code it is, and how far down the answer it starts (0 to 1)

    def target(self) -> Widget:
        """The widget to highlight: a code block's rendered fence, looked for only when it is selected (a
        segment far from the viewport has dropped its blocks: then the answer, until it is drawn again)."""
        if self.fence is None:
            return self.widget
        block, nth, _ = self.fence
        code = block.code.rstrip("\n")
        same = [fence for fence in self.widget.query(MarkdownFence) if fence.code.rstrip("\n") == code]
        return same[nth] if nth < len(same) else self.widget


def _preview(text: str, width: int = 40) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[:width - 1] + "…"


def prompt_text(widget: UserTurn) -> str:
    return widget.turn.content if widget.turn is not None else widget.text


def answer_text(widget: AssistantTurn) -> str:
    """The stored answer once complete; what has arrived so far while it streams (the turn is empty then)."""
    stored = widget.turn
    return stored.content if stored is not None and stored.content else widget.answer


def thought_text(widget: AssistantTurn) -> str:
    stored = widget.turn
    if stored is not None and stored.reasoning:
        return stored.reasoning
    return widget.thinking.text if widget.thinking is not None else ""


def transcript_items(conversation: Widget, *, thoughts: bool = True) -> list[Item]:
    """Every item of the transcript, top to bottom; thoughts left out while they are hidden (Ctrl+T)."""
    items: list[Item] = []
    prompts = answers = 0
    for widget in conversation.children:
        if isinstance(widget, UserTurn):
            prompts += 1
            text = prompt_text(widget)
            items.append(Item("prompt", f"prompt {prompts}: {_preview(shown(text))}", text, widget, (widget, "prompt"),
                              "The prompt"))
        elif isinstance(widget, AssistantTurn):
            answers += 1
            thought = thought_text(widget)
            if thoughts and thought and widget.thinking is not None:
                items.append(Item("thought", f"thought {answers}", thought, widget.thinking, (widget, "thought"),
                                  "The thought"))
            answer = answer_text(widget)
            if not answer:
                continue
            items.append(Item("answer", f"answer {answers}", answer, widget.body, (widget, "answer"), "The answer"))
            blocks = code_blocks(answer)
            seen: dict[str, int] = {}
            for number, block in enumerate(blocks, 1):
                nth = seen.get(block.code, 0)
                seen[block.code] = nth + 1
                items.append(Item("code", f"code block {number} of answer {answers} ({block.label})", block.code,
                                  widget.body, (widget, "code", number), f"Code block ({block.label})",
                                  (block, nth, block.line / max(answer.count("\n"), 1))))
    return items


class SelectionBar(Static, can_focus=True):
    """Selection mode's line above the prompt: what is selected (the footer shows the mode's keys, which this
    holds while it has the focus). Losing the focus (a click on the prompt) ends the mode."""

    BINDINGS = keys.SELECTION_BINDINGS

    def __init__(self) -> None:
        super().__init__("", id="selection", markup=False)

    def on_mount(self) -> None:
        self.set_interval(0.5, self.app.selection_check)

    def action_move(self, step: int) -> None:
        self.app.selection_move(step)

    def action_copy(self) -> None:
        self.app.selection_copy()

    def action_leave(self) -> None:
        self.app.selection_leave()

    def on_blur(self) -> None:
        self.app.selection_leave(refocus=False)  # the focus went where the user sent it: it stays there


class Selection:
    selection: Item | None = None  # the selected item while the mode is on
    highlighted: Widget | None = None  # the widget that shows it

    # -- the copy keys --

    def action_copy_answer(self) -> None:
        turns = self.query_one("#conversation").query(AssistantTurn)
        answer = answer_text(turns.last()) if turns else ""
        if answer:
            copy(self, answer, "The answer")
        else:
            self.notify("There is no answer to copy yet.", severity="warning")

    def action_copy_code(self) -> None:
        """The selected item's code block (its last one) in selection mode, else the answers' last one."""
        if self.selection is not None:
            item = self._current() or self.selection
            if item.kind == "code":
                copy(self, item.text, item.what)
                return
            blocks = code_blocks(item.text)
            if not blocks:
                self.notify(f"The selected {item.kind} has no code block.", severity="warning")
                return
            copy(self, blocks[-1].code, f"Code block ({blocks[-1].label})")
            return
        for widget in reversed(self.query_one("#conversation").query(AssistantTurn)):
            blocks = code_blocks(answer_text(widget))
            if blocks:
                copy(self, blocks[-1].code, f"Code block ({blocks[-1].label})")
                return
        self.notify("No answer has a code block yet.", severity="warning")

    # -- selection mode --

    def action_select_mode(self) -> None:
        if self.selection is not None:
            return
        items = self._items()
        if not items:
            self.notify("Nothing to select yet: the conversation is empty.", severity="warning")
            return
        self.selection = items[-1]  # the newest item: nearest to what is on screen
        bar = SelectionBar()
        self.query_one("#main").mount(bar, before=self.query_one(PromptArea))
        bar.focus()
        self._show(items[-1], items)

    def selection_move(self, step: int) -> None:
        items = self._items()
        if not items:
            self.selection_leave()
            return
        keys_now = [item.key for item in items]
        at = keys_now.index(self.selection.key) if self.selection.key in keys_now else len(items) - 1
        self._show(items[max(0, min(at + step, len(items) - 1))], items)

    def selection_copy(self) -> None:
        item = self._current()
        if item is None:
            self.selection_leave()
            return
        copy(self, item.text, item.what)

    def selection_leave(self, *, refocus: bool = True) -> None:
        """End the mode; `refocus`: the prompt takes the focus back (Esc), unless it went elsewhere (a click)."""
        if self.selection is None:
            return
        self._highlight(None)
        self.selection = None
        for bar in self.query(SelectionBar):
            bar.remove()
        if refocus:
            self.query_one(PromptArea).focus()

    def selection_check(self) -> None:
        """Twice a second while the mode is on: the transcript may have changed under it (a reply written
        again, or still streaming): the bar follows, and a selected item that is gone gives way to the last."""
        if self.selection is None:
            return
        items = self._items()
        keys_now = [item.key for item in items]
        if not items:
            self.selection_leave()
        elif self.selection.key not in keys_now:
            self._show(items[-1], items)
        else:
            self._describe(items[keys_now.index(self.selection.key)], items)

    def _items(self) -> list[Item]:
        return transcript_items(self.query_one("#conversation"), thoughts=not self.has_class("-hide-thoughts"))

    def _current(self) -> Item | None:
        """The selected item as the transcript has it now (a streaming answer has grown since)."""
        return next((item for item in self._items() if item.key == self.selection.key), None)

    def _show(self, item: Item, items: list[Item]) -> None:
        self.selection = item
        self._highlight(item.target())
        if item.fence is not None and self.highlighted is item.widget:  # not drawn: far from the viewport
            self._scroll_near(item)
            self._find_fence(item, FENCE_TRIES)
        self._describe(item, items)

    def _describe(self, item: Item, items: list[Item]) -> None:
        code = " · Ctrl+K copies its code" if item.kind in ("prompt", "answer") else ""  # the footer has the rest
        self.query_one(SelectionBar).update(f"Selected {items.index(item) + 1}/{len(items)}: {item.label}{code}")

    def _scroll_near(self, item: Item) -> None:
        """Scroll to where the code block should be in its answer, by its line in the text: its segment is
        drawn again there, and then found."""
        conversation = self.query_one("#conversation")
        answer = item.widget
        top = answer.parent.virtual_region.y + answer.virtual_region.y  # the answer, in the conversation
        conversation.scroll_to(y=top + int(item.fence[2] * answer.outer_size.height) - 2, animate=False,
                               immediate=True)

    def _find_fence(self, item: Item, tries: int) -> None:
        """Highlight the block once its segment has drawn it again (its blocks are mounted in their own time)."""
        if self.selection is not item or self.highlighted is not item.widget:
            return  # moved on, or found
        fence = item.target()
        if fence is not item.widget:
            self._highlight(fence)
        elif tries > 1:
            self.set_timer(0.05, lambda: self._find_fence(item, tries - 1))

    def _highlight(self, widget: Widget | None) -> None:
        """Move the highlight to `widget` (None: nowhere) and scroll it into view, its top first."""
        if self.highlighted is not None:
            self.highlighted.remove_class(SELECTED)
        self.highlighted = widget
        if widget is not None:
            widget.add_class(SELECTED)
            self.query_one("#conversation").scroll_to_widget(widget, animate=False, top=True, immediate=True)
