"""Provenance, not inspection: a bundle runs only config code that the installed package shipped.

A bundle's ``configs/metadata.json`` names the packaged template it was made from
(:data:`~monai_debclust.zoo.templates.TEMPLATE_KEY`). :func:`read_provenance` compares every
config file of the bundle with that template in the bundle's layout (the form
``monai-debclust export`` writes, :func:`~monai_debclust.zoo.templates.expected_files`):

* **code** is every string starting with ``$`` (a Python expression), ``@`` (a reference) or ``%``
  (a macro), and every reserved key (:data:`RESERVED_KEYS`) with its value; a dictionary or list
  that carries code in the template must keep exactly the template's keys (length) and code;
* a **setting** may differ only as a plain value (:func:`is_plain`): a number, boolean, null, a
  string not starting with ``$``/``@``/``%``, or lists and dictionaries of those under keys that
  are neither reserved nor MONAI ids (``#``, ``::``);
* the metadata is config too (MONAI evaluates the ``$`` strings of ``_meta_`` when a config reads
  ``@_meta_``): being plain in the template, it may differ only in plain values;
* ``logging.conf`` is code (``logging.config.fileConfig`` evaluates its handler ``args``): it must
  be the template's, line for line;
* a config file the template does not have, ``large_files.yml`` holding anything but plain data,
  and Python files (``*.py``, ``*.pyc``, ``*.so``, ``*.pth``) anywhere in the bundle are differences too.

Nothing is evaluated: the files are read as JSON or text. :func:`check_provenance` raises
:class:`ProvenanceError` (one line: the file, the key, the text, and ``--trust``) unless the
bundle holds no difference or the user passed ``trust``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from monai_debclust.errors import UserError
from monai_debclust.zoo.templates import TEMPLATE_KEY, bundle_layout, expected_files, template_folder, template_names

__all__ = [
    "CODE_PREFIXES",
    "RESERVED_KEYS",
    "Difference",
    "Provenance",
    "ProvenanceError",
    "check_provenance",
    "config_differences",
    "is_plain",
    "read_provenance",
]

#: Leading characters of a string MONAI's parser evaluates (``$``), resolves (``@``) or expands (``%``).
CODE_PREFIXES = ("$", "@", "%")
#: Keys with which MONAI's parser instantiates, calls, skips or orders a component.
RESERVED_KEYS = frozenset({"_target_", "_mode_", "_disabled_", "_requires_", "_desc_"})
#: Files of code a bundle of this package never holds.
PYTHON_SUFFIXES = (".py", ".pyc", ".pyd", ".so", ".pth")
#: Suffixes of the files MONAI or Python's logging read as configs.
CONFIG_SUFFIXES = (".json", ".yaml", ".yml", ".conf")
_LARGE_FILES = ("large_files.yml", "large_files.yaml", "large_files.json")
_SHOWN = 120


class ProvenanceError(UserError, ValueError):
    """A bundle whose configs hold code that the installed package did not ship; the message names the key."""


@dataclass(frozen=True)
class Difference:
    """Code in ``file`` at ``key`` (``#``-joined, ``""`` for the whole file) that the template does not have.

    Attributes:
        file: the file, relative to the bundle folder.
        key: the key path inside it, MONAI style (``initialize#0``), or a line (``line 12``).
        text: what the bundle has there.
        reason: how it differs from the template.
    """

    file: str
    key: str
    text: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}#{self.key}" if self.key else self.file
        return f"{where}: {self.text} ({self.reason})" if self.text else f"{where}: {self.reason}"


@dataclass
class Provenance:
    """How a bundle folder compares with its template.

    Attributes:
        bundle: the bundle folder.
        template: the template's name, or None when the metadata names no packaged template.
        layout: ``template`` or ``exported``.
        differences: the code that is not the template's; empty when the bundle runs only shipped code.
        settings: the plain settings that differ from the template (``file#key``).
    """

    bundle: Path
    template: str | None
    layout: str
    differences: list[Difference] = field(default_factory=list)
    settings: list[str] = field(default_factory=list)


def _plain_key(key: Any) -> bool:
    return (isinstance(key, str) and key not in RESERVED_KEYS and not (key.startswith("_") and key.endswith("_"))
            and "#" not in key and "::" not in key and not key.startswith(CODE_PREFIXES))


def is_plain(value: Any) -> bool:
    """True for data MONAI's parser neither evaluates, resolves nor instantiates (see the module docstring)."""
    if isinstance(value, str):
        return not value.startswith(CODE_PREFIXES)
    if value is None or isinstance(value, (bool, int, float)):
        return True
    if isinstance(value, list):
        return all(map(is_plain, value))
    if isinstance(value, dict):
        return all(_plain_key(key) and is_plain(item) for key, item in value.items())
    return False


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return repr(text if len(text) <= _SHOWN else text[:_SHOWN] + "...")


def _join(key: str, part: Any) -> str:
    return f"{key}#{part}" if key else str(part)


def _code(value: Any, key: str) -> Iterator[tuple[str, Any]]:
    """``(key path, value)`` of each piece of code in ``value``: a coded string, or a non-plain key with its value."""
    if isinstance(value, dict):
        for part, item in value.items():
            yield from ((_join(key, part), item),) if not _plain_key(part) else _code(item, _join(key, part))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _code(item, _join(key, index))
    elif not is_plain(value):
        yield key, value


def _same(first: Any, second: Any) -> bool:
    return json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)


def _plain_changes(expected: Any, actual: Any, file: str, key: str) -> list[str]:
    """``file#key`` of each plain setting that differs between two plain values, as deep as both are dictionaries."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        parts = [*actual, *(part for part in expected if part not in actual)]
        return [change for part in parts
                for change in (_plain_changes(expected[part], actual[part], file, _join(key, part))
                               if part in expected and part in actual else [f"{file}#{_join(key, part)}"])]
    return [] if _same(expected, actual) else [f"{file}#{key}" if key else file]


def config_differences(expected: Any, actual: Any, file: str, key: str = "",
                       settings: list[str] | None = None) -> list[Difference]:
    """The code of ``actual`` (a config's content at ``key``) that is not ``expected``'s, the template's.

    Args:
        expected: the template's content.
        actual: the bundle's content.
        file: the file, for the differences' messages.
        key: the key path of both.
        settings: when given, the key paths of plain settings that differ are appended to it.
    """
    if is_plain(expected):
        if is_plain(actual):
            if settings is not None:
                settings += _plain_changes(expected, actual, file, key)
            return []
        return [Difference(file, path, _text(code), "code where the template has a plain setting")
                for path, code in _code(actual, key)]
    if isinstance(expected, dict) and isinstance(actual, dict):
        found = [Difference(file, _join(key, part), _text(actual[part]), "a key the template does not have here")
                 for part in actual if part not in expected]
        found += [Difference(file, _join(key, part), "", f"missing; the template has {_text(expected[part])}")
                  for part in expected if part not in actual]
        for part in (part for part in expected if part in actual):
            if _plain_key(part):
                found += config_differences(expected[part], actual[part], file, _join(key, part), settings)
            elif not _same(expected[part], actual[part]):
                found.append(Difference(file, _join(key, part), _text(actual[part]),
                                        f"the template has {_text(expected[part])}"))
        return found
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) == len(actual):
            return [difference for index, (first, second) in enumerate(zip(expected, actual))
                    for difference in config_differences(first, second, file, _join(key, index), settings)]
        index = next((index for index, (first, second) in enumerate(zip(expected, actual)) if not _same(first, second)),
                     min(len(expected), len(actual)))
        return [Difference(file, _join(key, index), _text(actual[index]) if index < len(actual) else "",
                           f"the template's list has {len(expected)} items here, this one {len(actual)}")]
    if _same(expected, actual):
        return []
    return [Difference(file, key, _text(actual), f"the template has {_text(expected)}")]


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    duplicated = sorted({key for key in keys if keys.count(key) > 1})
    if duplicated:
        raise ValueError(f"duplicate key {duplicated[0]!r}")
    return dict(pairs)


def _read(path: Path) -> Any:
    """A config file as data (JSON or YAML, duplicate keys refused) or, for any other suffix, as text."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return json.loads(text, object_pairs_hook=_unique_keys)
    return yaml.safe_load(text) if path.suffix in (".yaml", ".yml") else text


def _text_differences(expected: str, actual: str, file: str, name: str) -> list[Difference]:
    if expected == actual:
        return []
    lines, template_lines = actual.splitlines(), expected.splitlines()
    index = next((i for i, (a, b) in enumerate(zip(lines, template_lines)) if a != b), min(len(lines), len(template_lines)))
    text = _text(lines[index]) if index < len(lines) else ""
    return [Difference(file, f"line {index + 1}", text, f"not the template {name}'s {Path(file).name} (it is code too)")]


def _config_files(bundle: Path) -> list[str]:
    """The files of ``bundle`` read as configs: all of ``configs/``, and those at the top with a config suffix."""
    inside = [path for path in (bundle / "configs").rglob("*") if path.is_file()] if (bundle / "configs").is_dir() else []
    top = [path for path in bundle.iterdir() if path.is_file() and path.suffix in CONFIG_SUFFIXES
           and path.name not in _LARGE_FILES]
    return sorted(path.relative_to(bundle).as_posix() for path in [*inside, *top])


def _template_name(bundle: Path) -> tuple[str | None, list[Difference]]:
    """The packaged template the bundle's metadata names, or None with the difference that says why."""
    meta_file = next((name for name in ("configs/metadata.json", "metadata.json") if (bundle / name).is_file()),
                     "configs/metadata.json")
    try:
        name = _read(bundle / meta_file).get(TEMPLATE_KEY)
    except (OSError, ValueError, AttributeError) as exc:
        return None, [Difference(meta_file, "", "", f"cannot be read as a JSON object ({exc}), so no template is known")]
    if isinstance(name, str) and template_folder(name) is not None:
        return name, []
    return None, [Difference(meta_file, TEMPLATE_KEY, _text(name), "names no template this monai-debclust ships "
                             f"({', '.join(template_names())}); its configs are unknown code")]


def read_provenance(bundle_dir: str | Path) -> Provenance:
    """Compare the bundle folder ``bundle_dir`` with the packaged template its metadata names; nothing is run."""
    bundle = Path(bundle_dir)
    name, differences = _template_name(bundle)
    provenance = Provenance(bundle, name, bundle_layout(bundle), differences)
    expected = expected_files(template_folder(name), provenance.layout) if name is not None else {}
    for file in _config_files(bundle) if name is not None else []:
        if file not in expected:
            provenance.differences.append(Difference(file, "", "", f"a config file the template {name} does not have"))
            continue
        try:
            actual = _read(bundle / file)
        except (OSError, ValueError, yaml.YAMLError) as exc:
            provenance.differences.append(Difference(file, "", "", f"cannot be read ({exc})"))
            continue
        if isinstance(expected[file], str):
            provenance.differences += _text_differences(expected[file], str(actual), file, name)
        else:
            provenance.differences += config_differences(expected[file], actual, file, settings=provenance.settings)
    for listing in (name for name in _LARGE_FILES if (bundle / name).is_file()):
        try:
            content = _read(bundle / listing)
        except (OSError, ValueError, yaml.YAMLError) as exc:
            provenance.differences.append(Difference(listing, "", "", f"cannot be read ({exc})"))
            continue
        provenance.differences += [Difference(listing, key, _text(code), "code in a list of files")
                                   for key, code in _code(content, "")]
    provenance.differences += [
        Difference(path.relative_to(bundle).as_posix(), "", "", "Python code; a bundle of this package holds none")
        for path in sorted(bundle.rglob("*")) if path.suffix in PYTHON_SUFFIXES]
    return provenance


def check_provenance(bundle_dir: str | Path, trust: bool = False) -> Provenance:
    """:func:`read_provenance`, refusing a bundle with code the package did not ship unless ``trust``.

    Raises:
        ProvenanceError: one line naming the first difference (file, key, text) and how to proceed.
    """
    provenance = read_provenance(bundle_dir)
    if provenance.differences and not trust:
        more = len(provenance.differences) - 1
        raise ProvenanceError(
            f"{provenance.bundle}: {provenance.differences[0]}"
            + (f" (and {more} more difference{'s' if more > 1 else ''})" if more else "")
            + f"; its configs hold code that monai-debclust did not ship, so nothing was run. Read them "
            f"(monai-debclust verify {provenance.bundle} lists every difference) and pass --trust to accept them."
        )
    return provenance
