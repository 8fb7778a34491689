"""The layers, as imports: dependencies point one way and nothing imports in a cycle.

app.py -> resources, console -> web -> services -> schemas, models -> core, and app.py -> entrypoints
(the CLI, the server, the seeder), which get the app factory passed in and never import app.py.
Every import counts, including the ones inside functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = (
    "app",
    "entrypoints",
    "resources",
    "console",
    "web",
    "services",
    "schemas",
    "models",
    "core",
    "adapters",
)
# What each layer must never import.
FORBIDDEN = {
    "entrypoints": {"app", "resources"},
    "resources": {"app", "entrypoints", "console"},
    "console": {"app", "entrypoints", "resources"},
    "web": {"app", "entrypoints", "resources", "console"},
    # Services never reach Flask: no request, no g, no app (their config comes on the unit of work).
    "services": {"app", "entrypoints", "resources", "console", "web", "flask", "flask_restful", "werkzeug"},
    "schemas": {"app", "entrypoints", "resources", "console", "web", "services", "flask"},
    "models": {"app", "entrypoints", "resources", "console", "web", "services", "flask"},
    "core": {"app", "entrypoints", "resources", "console", "web", "services"},
    # The libraries' internals, and nothing of Inkwell's: each module wraps one library.
    "adapters": {
        "app",
        "entrypoints",
        "resources",
        "console",
        "web",
        "services",
        "schemas",
        "models",
        "core",
    },
}
# The limiter only counts: what the cache and the credentials read rides on its round trip
# without it knowing (web/roundtrip.py).
LIMITER_FORBIDDEN = {"web.cache", "web.credentials", "web.versions", "web.access"}
# Underscore names of libraries that their documentation gives as the way to do something.
DOCUMENTED_PRIVATE = {
    "_get_current_object": "werkzeug's LocalProxy: the object behind current_app or request",
    "_exit": "os._exit: how a forked child ends without running the parent's cleanup",
    "_srcfile": "logging HOWTO, Optimization: None skips finding the caller's file and line",
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


def test_the_limiter_imports_no_cache_or_credentials() -> None:
    imported = {".".join(name.split(".")[:2]) for name in modules()["web.limits"]}
    assert imported & LIMITER_FORBIDDEN == set()


def test_only_adapters_use_a_library_s_private_names() -> None:
    """`from lib import _name`, or `something._name` on anything but self or cls, outside adapters/."""
    packages = [pkg for pkg in PACKAGES[1:] if pkg != "adapters"]
    found = []
    for path in [ROOT / "app.py", *(p for pkg in packages for p in (ROOT / pkg).rglob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found += [
                    f"{path.name}: from {node.module} import {a.name}" for a in node.names if _private(a.name)
                ]
            elif isinstance(node, ast.Attribute) and _private(node.attr) and not _own(node.value):
                found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    assert found == []


def _own(receiver: ast.expr) -> bool:
    return isinstance(receiver, ast.Name) and receiver.id in ("self", "cls")


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__") and name not in DOCUMENTED_PRIVATE


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
