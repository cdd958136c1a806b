"""Files in the prompt: `/file PATH` lines, and Ctrl+D's path input that writes one. A mixin of DeskseekApp.

On Enter the prompt's `/file` lines become the files' fenced blocks (chat/attach.py) before the session
sees the text, so the history stores the contents and regenerate, edit and resume send the same words.
A prompt of nothing but `/file` lines is checked and kept, with a note that says what was attached:
the question comes next, and Enter sends both. A file that cannot go in is said in one line and the
prompt comes back as typed.
"""

from __future__ import annotations

from deskseek.chat import attach
from deskseek.errors import DeskseekError
from deskseek.tui.widgets.prompt import PromptArea
from deskseek.units import human_bytes


class Attaching:
    def context_room(self) -> int | None:
        """Tokens a file may take now: the loaded model's context (the planned one while it loads) less the
        conversation's messages and room for the reply."""
        engine = self.session.engine
        n_ctx = engine.n_ctx if engine is not None else getattr(self.request, "n_ctx", None)
        return attach.context_room(n_ctx, self.session.model_messages())

    def expand_files(self, message: PromptArea.Submitted) -> bool:
        """Put the files of `message`'s `/file` lines into its text; False when it is not to be sent now."""
        prompt = self.query_one(PromptArea)
        if message.text.strip() == "/file":  # no path yet: ask for one
            self.action_attach_file()
            return False
        try:
            text, attached = attach.expand(message.text, room_tokens=self.context_room())
        except DeskseekError as err:
            self.notify(str(err), severity="error", timeout=10, markup=False)
            prompt.give_back(message.text)
            return False
        if attached and attach.only_files(message.text):
            prompt.text = message.text + "\n" + prompt.text  # before anything typed since Enter
            prompt.move_cursor(prompt.document.end)
            self.notify(f"Attached {_names(attached)}: write your question under it; Enter sends both.", markup=False)
            return False
        if attached:
            self.notify(f"Attached {_names(attached)}.", markup=False)
        message.text = text
        return True

    def action_attach_file(self) -> None:
        from deskseek.tui.screens.attach_file import AttachFileScreen

        def check(path: str) -> None:
            attach.read(path, room_tokens=self.context_room())

        def put(path: str | None) -> None:
            if not path:
                return
            prompt = self.query_one(PromptArea)
            typed = prompt.text
            prompt.text = f"/file {path}\n" + typed
            prompt.move_cursor(prompt.document.end)
            prompt.focus()
            self.notify(f"{path} will be attached: Enter sends it with your question.", markup=False)

        self.push_screen(AttachFileScreen(check), put)


def _names(attached: list[attach.Attachment]) -> str:
    return ", ".join(f"{a.name} ({human_bytes(a.size)}, ~{a.tokens:,} tokens)" for a in attached)
