"""The one exception type a user is allowed to see.

Everything a user can cause or meet (a typo, a missing model, a full disk, a broken download) is raised
as a `DeskseekError` whose message is a single readable line; the CLI prints that line and exits non-zero.
Anything else is a bug: the CLI logs its traceback to the log file and still prints one line.
"""


class DeskseekError(Exception):
    """A user-facing failure; `str(err)` is the whole message, one line, no traceback."""


class NotFound(DeskseekError):
    """A model, alias, repository, file or quantization that does not exist."""


class NetworkError(DeskseekError):
    """The Hub (or PyPI) could not be reached, or refused us."""


class DiskFull(DeskseekError):
    """Not enough room: said before a download starts, or when the disk fills mid-way."""


class CorruptDownload(DeskseekError):
    """Bytes that do not hash to what the source promised; the bad file has been deleted."""


class Busy(DeskseekError):
    """Another deskseek process holds the lock on the same model."""


class Cancelled(DeskseekError):
    """Work the user stopped (quitting the app mid-pull): what was done is kept for next time."""
