"""The import graph of dance's packages, read from the source with ``ast`` (nothing is imported).

Every import counts: module level, inside functions, and under ``if TYPE_CHECKING:``, because a
circle through type hints is still a circle in the design. ``from a.b import c`` is an edge to
``a.b.c`` when that is a module of the package, else to ``a.b``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path


def package_modules(source: Path, package: str) -> dict[str, Path]:
    """``{dotted module name: file}`` of every module under ``source`` (the folder of ``package``)."""
    found = {}
    for path in sorted(source.rglob("*.py")):
        parts = list(path.relative_to(source).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join([package, *parts])] = path
    return found


def imported_modules(path: Path, module: str, known: Iterable[str]) -> set[str]:
    """The modules of ``known`` that ``module`` (the file ``path``) imports."""
    known = set(known)
    is_package = path.name == "__init__.py"
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names.add(target)
            names.update(f"{target}.{alias.name}" for alias in node.names)
    edges = set()
    for name in names:
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name and name != module:
            edges.add(name)
    return edges


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph.get(node, ())):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(cycles)


def package_cycles(source: Path, package: str) -> list[list[str]]:
    """Import cycles among the modules of ``package`` whose source folder is ``source``."""
    modules = package_modules(source, package)
    return import_cycles({name: imported_modules(path, name, modules) for name, path in modules.items()})
