"""Mistakes a user can fix, told in one line instead of a traceback.

:class:`UserError` marks an error whose message names the setting, path or file at fault and
what to do about it: a bad setting, an empty archive, a model folder that does not fit. When
such an error ends a bundle run (``python -m monai.bundle run ...``, after the bundle's
``initialize`` installed :func:`install_error_hook`) or a ``monai-debclust`` command, the user
sees ``error: <message>`` and the process exits non-zero; the traceback is printed only when
the environment variable ``MONAI_DEBCLUST_TRACEBACK`` is set to ``1``. Every other exception
is a bug and keeps its full traceback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from types import TracebackType

__all__ = [
    "TRACEBACK_VARIABLE",
    "USER_ERROR_STATUS",
    "EmptyArchiveError",
    "SettingError",
    "UserError",
    "format_user_error",
    "install_error_hook",
    "run_reporting_user_errors",
    "traceback_wanted",
    "user_error",
]

#: Environment variable that, set to 1, shows the traceback of a user error too.
TRACEBACK_VARIABLE = "MONAI_DEBCLUST_TRACEBACK"
#: Exit status of a command that ended on a user error (a crash exits 1).
USER_ERROR_STATUS = 2
#: Standard exceptions that name a path the user gave (a missing, misplaced or read-only file or folder).
_PATH_ERRORS = (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError, FileExistsError)


class UserError(Exception):
    """An error the user can fix; its message names the setting, path or file at fault."""


class SettingError(UserError, ValueError):
    """A bundle or command-line setting that is unknown, malformed or does not fit the data or model."""


class EmptyArchiveError(UserError, ValueError):
    """An archive with no image file, or none that could be read."""


def user_error(exc: BaseException | None) -> BaseException | None:
    """The :class:`UserError` (or path error) behind ``exc``, following the chain of causes.

    MONAI wraps an error raised while a config expression is evaluated in a ``RuntimeError``;
    the fixable error is its cause (or its cause's cause).
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, (UserError, *_PATH_ERRORS)):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def format_user_error(exc: BaseException) -> str:
    """``error: <message>`` and how to see the traceback."""
    message = str(exc).strip() or type(exc).__name__
    return f"error: {message}\n(set {TRACEBACK_VARIABLE}=1 to see the traceback)"


def traceback_wanted() -> bool:
    """Whether the user asked for tracebacks of user errors too (:data:`TRACEBACK_VARIABLE`)."""
    return os.environ.get(TRACEBACK_VARIABLE, "").strip().lower() in ("1", "true", "yes")


def _hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    cause = user_error(exc)
    if cause is None or traceback_wanted():
        sys.__excepthook__(kind, exc, tb)
    else:
        print(format_user_error(cause), file=sys.stderr, flush=True)


def install_error_hook() -> None:
    """Make an uncaught :class:`UserError` end the process with its message only (exit status 1)."""
    sys.excepthook = _hook


def run_reporting_user_errors(command: Callable[[], int]) -> int:
    """``command()``'s exit status; a user error is printed as one message and gives :data:`USER_ERROR_STATUS`."""
    try:
        return command()
    except Exception as exc:
        cause = user_error(exc)
        if cause is None or traceback_wanted():
            raise
        print(f"monai-debclust: {format_user_error(cause)}", file=sys.stderr)
        return USER_ERROR_STATUS
