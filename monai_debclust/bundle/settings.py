"""Checks of a bundle run's settings, done before any work: unknown keys, the output folder.

MONAI adds an unknown top-level override silently (``--epoch 5`` for ``--epochs``, and the run
quietly trains for the default number of epochs), so a bundle's ``initialize`` calls
:func:`check_command_line`, which compares the ``--key`` options of the
``python -m monai.bundle run`` command line with the keys of the run's config files. Each
problem is a :class:`~monai_debclust.errors.SettingError` naming the setting.
"""

from __future__ import annotations

import difflib
import json
import os
import sys
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path

from monai.bundle import ConfigParser

from monai_debclust.errors import SettingError

__all__ = ["RUN_ARGUMENTS", "check_command_line", "check_output_dir", "command_line_settings", "unknown_settings"]

#: Arguments of ``monai.bundle run`` itself, which are not config keys.
RUN_ARGUMENTS = frozenset({
    "run_id", "init_id", "final_id", "meta_file", "config_file", "logging_file", "tracking", "args_file",
    "workflow_type", "workflow_name", "properties_path",
})


def command_line_settings(argv: Sequence[str]) -> list[str]:
    """The names of the ``--key value`` / ``--key=value`` options in ``argv`` (in order, without ``--``)."""
    return [token[2:].split("=", 1)[0] for token in argv if token.startswith("--") and len(token) > 2]


def unknown_settings(config: dict, names: Iterable[str]) -> list[str]:
    """The ``names`` that are neither a run argument nor a key of ``config`` (``a#b``: ``a`` is checked)."""
    known = set(config) | RUN_ARGUMENTS
    return [name for name in names if name.replace("::", "#").split("#", 1)[0] not in known]


def _option(argv: Sequence[str], name: str) -> str | None:
    """The value of ``--name value`` or ``--name=value`` in ``argv``."""
    for position, token in enumerate(argv):
        if token == f"--{name}" and position + 1 < len(argv):
            return argv[position + 1]
        if token.startswith(f"--{name}="):
            return token.split("=", 1)[1]
    return None


def _config_files(value: str) -> list[str]:
    """``--config_file`` as MONAI reads it: one path, or a Python/JSON list of paths."""
    text = value.strip()
    if text.startswith("["):
        return [str(path) for path in json.loads(text.replace("'", '"'))]
    return [text]


def check_command_line(argv: Sequence[str] | None = None) -> None:
    """Refuse ``--key`` options of a ``python -m monai.bundle run`` command line that no config file defines.

    Does nothing unless the process is ``monai.bundle`` (so a run driven from Python, e.g. by
    the ``monai-debclust`` command, which checks its own options, is not affected).

    Raises:
        SettingError: naming each unknown setting and the closest known key.
    """
    argv = sys.argv if argv is None else argv
    if not argv or Path(argv[0]).parent.name != "bundle" or Path(argv[0]).name != "__main__.py":
        return
    options = list(argv[1:])
    args_file = _option(options, "args_file")
    extra = list(json.loads(Path(args_file).read_text(encoding="utf-8"))) if args_file else []
    config_file = _option(options, "config_file")
    if config_file is None:
        return
    config = ConfigParser.load_config_files(_config_files(config_file))
    unknown = unknown_settings(config, command_line_settings(options) + extra)
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name.split("#", 1)[0], sorted(config), n=1)
            hints.append(f"--{name}" + (f" (did you mean --{close[0]}?)" if close else ""))
        raise SettingError(
            f"unknown setting{'s' if len(hints) > 1 else ''} {', '.join(hints)}: not a key of {config_file} "
            "(each bundle's docs/README.md lists its settings)."
        )


def check_output_dir(output_dir: str | os.PathLike) -> str:
    """``output_dir``, created if needed, after checking that files can be written in it.

    Raises:
        SettingError: naming the folder and the reason (a file in the way, no permission, a
            read-only or full disk).
    """
    folder = Path(output_dir).expanduser()
    probe = folder / f".write-test-{uuid.uuid4().hex}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise SettingError(f"output_dir {str(output_dir)!r} is not a writable folder ({reason}); "
                           "pass --output_dir with a folder you can write to.") from exc
    return str(output_dir)
