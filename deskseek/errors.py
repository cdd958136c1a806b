"""The one exception type a user is allowed to see, and the exit status each kind of failure ends with.

Everything a user can cause or meet (a typo, a missing model, a full disk, a broken download) is raised
as a `DeskseekError` whose message is a single readable line; the CLI prints that line and exits with the
error's `exit_code`, so a script can tell "no such model" from "the network is down" without parsing text.
Anything else is a bug: the CLI logs its traceback to the log file, prints one line, and exits INTERNAL.

The table (README.md, "Exit status", lists the same):
"""

OK = 0
FAILED = 1  # the command ran but could not do what was asked (does not fit, corrupt download, no answer)
USAGE = 2  # a bad flag, argument or input: argparse's own status for the same mistakes
NOT_FOUND = 3  # a model, conversation or file that does not exist
NETWORK = 4  # the Hub or PyPI could not be reached, or refused us
BUSY = 5  # another deskseek (or program) holds what this command needs
DISK_FULL = 6  # no room to write
OUTPUT = 7  # standard output is closed or cannot be written (`> /dev/full`, `>&-`)
INTERNAL = 70  # a bug (sysexits' EX_SOFTWARE): details in the log
INTERRUPTED = 130  # Ctrl+C (128 + SIGINT), or work the user stopped
PIPE_CLOSED = 141  # the reader of the output went away (`| head`): quiet, as a program killed by SIGPIPE


class DeskseekError(Exception):
    """A user-facing failure; `str(err)` is the whole message, one line, no traceback."""

    exit_code = FAILED


class UsageError(DeskseekError):
    """A flag, argument or input the user gave that cannot work (checked past what argparse can see)."""

    exit_code = USAGE


class NotFound(DeskseekError):
    """A model, alias, repository, file or quantization that does not exist."""

    exit_code = NOT_FOUND


class NetworkError(DeskseekError):
    """The Hub (or PyPI) could not be reached, or refused us."""

    exit_code = NETWORK


class DiskFull(DeskseekError):
    """Not enough room: said before a download starts, or when the disk fills mid-way."""

    exit_code = DISK_FULL


class CorruptDownload(DeskseekError):
    """Bytes that do not hash to what the source promised; the bad file has been deleted."""


class Busy(DeskseekError):
    """Another deskseek process holds the lock on the same model."""

    exit_code = BUSY


class Cancelled(DeskseekError):
    """Work the user stopped (quitting the app mid-pull): what was done is kept for next time."""

    exit_code = INTERRUPTED


class OutputError(DeskseekError):
    """Standard output cannot take what the command writes: closed, or on a full device."""

    exit_code = OUTPUT
