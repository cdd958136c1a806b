"""The `deskseek` command: one module per command group, each with its parser and handler side by side."""
