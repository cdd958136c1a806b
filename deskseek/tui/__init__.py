"""The Textual face of deskseek: screens and widgets over the core, talking to it through workers."""
