"""The project's structure: no import loops anywhere, and bot/ names no accounting package.

The layers themselves (bot above providers and storage, and inside bot each layer above the next) are
import-linter's contracts in pyproject.toml, checked by `./dev lint` in CI.
"""

from __future__ import annotations

import re
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent


def import_loops(graph: grimp.ImportGraph) -> list[list[str]]:
    """Every set of modules that import each other round in a loop (strongly connected, more than one)."""
    imports = {m: graph.find_modules_directly_imported_by(m) & graph.modules for m in graph.modules}
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    loops: list[list[str]] = []

    def visit(start: str) -> None:  # Tarjan's algorithm, iteratively (the graph is deep enough to matter)
        work = [(start, iter(sorted(imports[start])))]
        order[start] = low[start] = len(order)
        stack.append(start)
        on_stack.add(start)
        while work:
            module, targets = work[-1]
            for target in targets:
                if target not in order:
                    order[target] = low[target] = len(order)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(imports[target]))))
                    break
                if target in on_stack:
                    low[module] = min(low[module], order[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[module])
                if low[module] == order[module]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == module:
                            break
                    if len(component) > 1:
                        loops.append(sorted(component))

    for module in sorted(imports):
        if module not in order:
            visit(module)
    return loops


def test_the_loop_finder_finds_a_loop() -> None:
    graph = grimp.ImportGraph()
    for a, b in (("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a"), ("p.c", "p.d")):
        graph.add_import(importer=a, imported=b)
    assert import_loops(graph) == [["p.a", "p.b", "p.c"]]


def test_no_module_of_the_project_imports_itself_round_a_loop() -> None:
    graph = grimp.build_graph("bot", "providers", "storage")
    assert import_loops(graph) == []


def test_bot_and_storage_name_no_accounting_package() -> None:
    """Adding a package is its own folder in providers/, never an edit in bot/ or storage/."""
    names = re.compile(r"xero|myob|quickbooks|intuit", re.IGNORECASE)
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for folder in ("bot", "storage")
        for path in sorted((ROOT / folder).rglob("*"))
        if path.suffix in (".py", ".yml", ".mako")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if names.search(line)
    ]
    assert found == []


def test_no_listener_imports_another() -> None:
    """What two listeners share lives below them in bot.slack; only `commands`, the router, imports the others."""
    graph = grimp.build_graph("bot")
    listeners = {m for m in graph.modules if m.startswith("bot.slack.listeners.")}
    found = sorted(
        (module, imported)
        for module in listeners - {"bot.slack.listeners.commands"}
        for imported in graph.find_modules_directly_imported_by(module) & listeners
    )
    assert found == []
