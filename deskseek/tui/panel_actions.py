"""What the chat app does for its conversation panel (widgets/conversation_panel.py): open the chosen chat,
at the chosen message for a search hit; start a new chat when the open one was deleted; Ctrl+F.

A mixin of DeskseekApp, as model_loading.py is: the app module stays a thin list of what the keys do.
"""

from __future__ import annotations

from deskseek.tui.widgets.conversation_panel import ConversationPanel


class PanelActions:  # (handlers by name, not @on: Textual collects @on only from its own classes)
    def refresh_sidebar(self) -> None:
        self.query_one(ConversationPanel).refresh_list()

    def action_focus_search(self) -> None:
        self.query_one(ConversationPanel).focus_search()

    def on_conversation_panel_open(self, event: ConversationPanel.Open) -> None:
        if self.live is not None or self.pending is not None:
            self._refused("open another conversation")
            return
        self.show_conversation(event.conversation_id, at=event.message_id)

    def on_conversation_panel_deleted(self, event: ConversationPanel.Deleted) -> None:
        if event.conversation_id == self.session.conversation_id:
            self.action_new_chat()
            self.notify("The open conversation was deleted: this is a new chat.")
