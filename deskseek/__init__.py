"""deskseek: DeepSeek-R1 and friends on your own machine, through llama.cpp, with nothing sent anywhere."""

__version__ = "0.1.0"

import logging as _logging

# Without a handler, Python prints warnings to stderr by itself; deskseek's log belongs in its log file,
# and on a TUI screen a stray stderr line is corruption. The CLI adds the file handler.
_logging.getLogger("deskseek").addHandler(_logging.NullHandler())
