"""The layers, as imports: dependencies point one way and nothing imports in a cycle.

app.py -> resources, console -> web -> services -> schemas, models -> core, and app.py -> entrypoints
(the CLI, the server, the seeder), which get the app factory passed in and never import app.py.
Every import counts, including the ones inside functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("app", "entrypoints", "resources", "console", "web", "services", "schemas", "models", "core")
# What each layer must never import.
FORBIDDEN = {
    "entrypoints": {"app", "resources"},
    "resources": {"app", "entrypoints", "console"},
    "console": {"app", "entrypoints", "resources"},
    "web": {"app", "entrypoints", "resources", "console"},
    "services": {"app", "entrypoints", "resources", "console", "web", "flask", "flask_restful"},
    "schemas": {"app", "entrypoints", "resources", "console", "web", "services", "flask"},
    "models": {"app", "entrypoints", "resources", "console", "web", "services", "flask"},
    "core": {"app", "entrypoints", "resources", "console", "web", "services"},
}


def modules() -> dict[str, set[str]]:
    """Each project module and the project modules (or top-level packages) it imports."""
    graph: dict[str, set[str]] = {}
    files = [ROOT / "app.py", *(p for pkg in PACKAGES[1:] for p in (ROOT / pkg).rglob("*.py"))]
    for path in files:
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module)
                imported |= {f"{node.module}.{alias.name}" for alias in node.names}
        graph[name] = imported
    return graph


def test_each_layer_imports_only_downwards() -> None:
    wrong = []
    for module, imported in modules().items():
        banned = FORBIDDEN.get(module.split(".")[0], set())
        wrong += [f"{module} -> {target}" for target in imported if target.split(".")[0] in banned]
    assert wrong == []


def test_no_import_cycles() -> None:
    graph = modules()
    edges = {module: {t for t in targets if t in graph and t != module} for module, targets in graph.items()}
    cycles = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(edges[module]):
            if state.get(target) == 1:
                cycles.append(" -> ".join([*path[path.index(target) :], target]))
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_resources_hold_resource_classes_only() -> None:
    for path in (ROOT / "resources").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                bases = {getattr(b, "id", None) for b in node.bases}
                assert bases == {"Resource"}, f"{path.name}: {node.name}"
