"""What a bundle's configs would run: every ``$`` expression and ``_target_`` that reaches other code.

A downloaded bundle is code. MONAI's ``ConfigParser`` runs each ``$`` string as Python and
imports and calls each ``_target_``; this module reads them as text, without running anything,
and reports those a user should look at before running the bundle:

* ``outside``: an import, a name or a ``_target_`` from a module other than ``monai``,
  ``monai_debclust``, ``torch``, ``numpy`` and the Python standard library (e.g. ``ignite``);
* ``bundle code``: a module shipped inside the bundle folder itself (a ``scripts/`` package);
* ``dynamic``: code that reaches modules or attributes chosen at run time or runs text as code
  (``__import__``, ``eval``, ``exec``, ``getattr``, ``importlib``, a ``__dunder__`` attribute),
  so that what it runs cannot be read from the config;
* ``system``: standard-library code that starts processes, opens network connections, deletes
  files or unpickles (``os.system``, ``subprocess``, ``socket``, ``shutil.rmtree``, ``pickle``);
* ``unreadable``: an expression that is not valid Python.

``outside`` is a notice (MONAI's own multi-GPU recipe imports ``ignite``); the other kinds are
problems (:attr:`Finding.is_problem`). The scan is an aid to reading a config, not a sandbox.
"""

from __future__ import annotations

import ast
import builtins
import json
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = ["ALLOWED_MODULES", "Finding", "audit_bundle", "audit_configs", "config_expressions"]

#: Top-level modules a bundle's configs may use without a notice, besides the standard library.
ALLOWED_MODULES = frozenset({"monai", "monai_debclust", "torch", "numpy"})
#: Names MONAI's ``ConfigParser`` puts in every expression's globals, and the modules they are.
PARSER_GLOBALS = {"monai": "monai", "torch": "torch", "np": "numpy", "numpy": "numpy"}
#: Built-ins (and modules) through which an expression reaches code chosen at run time.
DYNAMIC_NAMES = frozenset({"__import__", "eval", "exec", "compile", "getattr", "setattr", "delattr", "globals",
                           "locals", "vars", "breakpoint", "__builtins__", "importlib", "builtins", "runpy"})
#: Standard-library modules, and functions of ``os`` and ``shutil``, that act on the system.
SYSTEM_MODULES = frozenset({"subprocess", "socket", "ctypes", "pty", "urllib", "http", "ftplib", "smtplib",
                            "telnetlib", "xmlrpc", "webbrowser", "pickle", "marshal", "shelve", "multiprocessing"})
SYSTEM_FUNCTIONS = ("os.system", "os.popen", "os.exec", "os.spawn", "os.fork", "os.kill", "os.remove", "os.unlink",
                    "os.rmdir", "os.removedirs", "os.rename", "os.replace", "os.chmod", "os.chown", "os.putenv",
                    "shutil.rmtree", "shutil.move")
#: The name each ``@reference`` is replaced with before parsing (MONAI substitutes the resolved value).
_REFERENCE = "_reference_"
#: A MONAI reference, ``@id`` with ``#`` or ``::`` between the parts of a nested id.
_REFERENCE_PATTERN = re.compile(r"@\w*(?:(?:#|::)\w*)*")
_CONFIG_SUFFIXES = (".json", ".yaml", ".yml")


@dataclass(frozen=True)
class Finding:
    """One expression or ``_target_`` of a config that reaches code a user should look at.

    Attributes:
        config: the config file, relative to the bundle folder (``configs/inference.json``).
        key: the config key holding it, MONAI style (``train#handlers#0#_target_``).
        text: the expression (``$...``) or the ``_target_`` value.
        kind: ``outside``, ``bundle code``, ``dynamic``, ``system`` or ``unreadable``.
        reason: what it reaches, in words.
    """

    config: str
    key: str
    text: str
    kind: str
    reason: str

    @property
    def is_problem(self) -> bool:
        """True unless the finding is only a notice (a named module outside the allowed ones)."""
        return self.kind != "outside"

    def __str__(self) -> str:
        return f"{self.config}#{self.key}: {self.text}  [{self.kind}: {self.reason}]"


def config_expressions(config: Any, prefix: str = "") -> Iterator[tuple[str, str, bool]]:
    """``(key, text, is_target)`` for every ``$`` string and ``_target_`` value in a parsed config."""
    if isinstance(config, Mapping):
        items = config.items()
    elif isinstance(config, list):
        items = enumerate(config)
    else:
        return
    for key, value in items:
        path = f"{prefix}#{key}" if prefix else str(key)
        if isinstance(value, str) and key == "_target_":
            yield path, value, True
        elif isinstance(value, str) and value.startswith("$"):
            yield path, value, False
        else:
            yield from config_expressions(value, path)


def _module_kind(module: str, bundle_dir: Path | None) -> tuple[str, str] | None:
    """The kind and reason of a finding for using ``module``; None when it is allowed."""
    root = module.split(".")[0]
    if bundle_dir is not None and ((bundle_dir / root).is_dir() or (bundle_dir / f"{root}.py").is_file()):
        return "bundle code", f"module {root!r} is shipped inside the bundle and runs from it"
    if root in DYNAMIC_NAMES:
        return "dynamic", f"module {root!r} imports or runs code chosen at run time"
    if root in SYSTEM_MODULES or module.startswith(SYSTEM_FUNCTIONS):
        return "system", f"{module} acts on the system (processes, network, files or pickles)"
    if root in ALLOWED_MODULES or root in sys.stdlib_module_names:
        return None
    return "outside", f"module {root!r} is not monai, monai_debclust, torch, numpy or the standard library"


def _imports(tree: ast.AST) -> dict[str, str]:
    """Names bound by the import statements in ``tree``: name -> dotted module (or module.attribute)."""
    bound = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                bound[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                bound[alias.asname or alias.name] = f"{'.' * node.level}{node.module or ''}.{alias.name}"
    return bound


def _dotted(node: ast.AST) -> str | None:
    """``a.b.c`` for an attribute chain on a name, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return ".".join([node.id, *reversed(parts)])


def _parse(text: str) -> ast.AST:
    """The Python of a ``$`` expression, with MONAI ``@references`` replaced by a plain name."""
    code = _REFERENCE_PATTERN.sub(_REFERENCE, text[1:])
    return ast.parse(code, mode="exec")


def _local_names(tree: ast.AST) -> set[str]:
    """Names an expression binds itself: comprehension targets, lambda arguments, ``:=`` targets."""
    names = {_REFERENCE}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
    return names


def _expression_findings(tree: ast.AST, modules: Mapping[str, str], bundle_dir: Path | None) -> list[tuple[str, str]]:
    """``(kind, reason)`` of everything an expression reaches that is not allowed, without duplicates."""
    found: dict[tuple[str, str], None] = {}
    local = _local_names(tree)
    parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            if isinstance(node, ast.ImportFrom) and node.level:
                found[("bundle code", "a relative import runs code beside the config")] = None
                continue
            prefix = "" if isinstance(node, ast.Import) else f"{node.module}."
            for alias in node.names:
                if (kind := _module_kind(prefix + alias.name, bundle_dir)) is not None:
                    found[kind] = None
        elif isinstance(node, ast.Attribute) and node.attr.startswith("__") and node.attr.endswith("__"):
            found[("dynamic", f"attribute {node.attr!r} reaches Python internals")] = None
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in local:
            if node.id in DYNAMIC_NAMES:
                found[("dynamic", f"{node.id!r} reaches modules or runs code chosen at run time")] = None
            elif node.id in modules:
                chain = _dotted(_outermost_attribute(parents, node)) or node.id
                module = modules[node.id] + chain[len(node.id):]
                if (kind := _module_kind(module, bundle_dir)) is not None:
                    found[kind] = None
            elif not hasattr(builtins, node.id):
                found[("outside", f"name {node.id!r} is neither imported by the configs nor a built-in")] = None
    return list(found)


def _outermost_attribute(parents: Mapping[ast.AST, ast.AST], name: ast.Name) -> ast.AST:
    """The longest ``name.a.b`` attribute chain that starts at ``name`` (``parents``: node -> parent)."""
    node: ast.AST = name
    while isinstance(parents.get(node), ast.Attribute):
        node = parents[node]
    return node


def audit_configs(configs: Mapping[str, Any], bundle_dir: str | Path | None = None) -> list[Finding]:
    """The findings of every config in ``configs`` (file name -> parsed content), in file and key order.

    Names imported by a ``$import`` in any of the configs count for all of them, as MONAI's parser
    shares one namespace between the config files it merges.
    """
    bundle_dir = Path(bundle_dir) if bundle_dir is not None else None
    parsed: list[tuple[str, str, str, ast.AST | None, bool]] = []
    modules = dict(PARSER_GLOBALS)
    for name, config in configs.items():
        for key, text, is_target in config_expressions(config):
            tree = None
            if not is_target:
                try:
                    tree = _parse(text)
                except SyntaxError:
                    pass
                else:
                    modules.update(_imports(tree))
            parsed.append((name, key, text, tree, is_target))
    findings = []
    for name, key, text, tree, is_target in parsed:
        if is_target:
            kinds = [kind] if (kind := _module_kind(text, bundle_dir)) is not None and "." in text else []
        elif tree is None:
            kinds = [("unreadable", "not valid Python; MONAI would fail to run it")]
        else:
            kinds = _expression_findings(tree, modules, bundle_dir)
        findings.extend(Finding(name, key, text, kind, reason) for kind, reason in kinds)
    return findings


def _load(path: Path) -> Any:
    if path.suffix == ".json":
        return json.loads(path.read_text(encoding="utf-8"))
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def audit_bundle(bundle_dir: str | Path) -> tuple[list[Finding], int]:
    """The findings of every config file of a bundle (``configs/`` and the bundle's top folder), and
    how many expressions were read.

    Returns:
        ``(findings, count)``: the findings (:func:`audit_configs`) and the number of ``$``
        expressions and ``_target_`` values scanned.
    """
    bundle_dir = Path(bundle_dir)
    configs = {
        path.relative_to(bundle_dir).as_posix(): _load(path)
        for path in sorted([*bundle_dir.glob("*"), *(bundle_dir / "configs").glob("*")])
        if path.suffix in _CONFIG_SUFFIXES and path.is_file()
    }
    count = sum(1 for config in configs.values() for _ in config_expressions(config))
    return audit_configs(configs, bundle_dir), count
