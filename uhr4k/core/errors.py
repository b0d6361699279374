"""The one exception type that means "the user's input is wrong", not "uhr4k is broken".

Every message names the file (or option) and the reason on one line, so that the CLI can print it
without a traceback and pipelines can record it in their failures file and go on.
"""
import errno

# What the disk says when it refuses a write: one line for the user, never a traceback.
DISK_ERRORS = {errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded",
               errno.EACCES: "permission denied", errno.EROFS: "read-only file system",
               errno.EPERM: "operation not permitted"}


class InputError(Exception):
    """Bad input: an unreadable file, a wrong size, an empty folder, a bad option value.

    The message is one line, ``"<path>: <reason>"`` wherever a file is involved.
    """

    def __init__(self, message: str, path=None):
        self.path = None if path is None else str(path)
        self.reason = message
        super().__init__(f"{self.path}: {message}" if self.path else message)


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type's name when it has none): the reason a library's
    multi-line error gives inside one InputError line."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
