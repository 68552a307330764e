"""The package's structure: no import cycles (imports inside functions included), no name forwarding, imports
inside functions only for optional dependencies, no module over 400 lines.

The graph is read from the source (``ast``), so an import that only runs on some path still counts.
"""
import ast
import re
from pathlib import Path

import aslib

PACKAGE = Path(aslib.__file__).parent
OPTIONAL = {"sphinx", "jupyter_server_mathjax", "papermill", "IPython"}
"""Top-level packages that aslib may import inside a function, because the base dependencies do not install them:
sphinx and jupyter_server_mathjax (the ``book`` extra), papermill (``notebooks``), IPython (a Jupyter kernel's)."""


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> list[tuple[str, ast.stmt, bool]]:
    """``(imported module, node, inside a function)`` for every import statement of the module ``name``."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text())
    inside = {id(node) for fn in ast.walk(tree) if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
              for node in ast.walk(fn)}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        out += [(target, node, id(node) in inside) for target in targets]
    return out


def graph() -> dict[str, set[str]]:
    known = modules()
    edges = {name: set() for name in known}
    for name, path in known.items():
        for target, _, _ in imports(name, path, known):
            while target not in known and "." in target:
                target = target.rpartition(".")[0]
            if target in known and target != name and not name.startswith(target + "."):
                edges[name].add(target)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in edges:
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_planted_cycle():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(edges) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_lazy_imports_included():
    edges = graph()
    assert edges["aslib.store.zoo"] >= {"aslib.nets.asnet", "aslib.nets.inference"}, "the graph lost real edges"
    assert cycles(edges) == []


def layers() -> list[str]:
    """The package's layers in the order of its docstring: each imports only from itself and those before it."""
    return [name.removeprefix("aslib.") for name in re.findall(r":mod:`(aslib\.[a-z_]+)`", aslib.__doc__)]


def layer_violations(edges: dict[str, set[str]], order: list[str]) -> list[str]:
    def rank(module: str) -> int | None:
        parts = module.split(".")
        return order.index(parts[1]) if len(parts) > 1 and parts[1] in order else None
    return [f"{a} imports {b}" for a, targets in sorted(edges.items()) for b in sorted(targets)
            if rank(a) is not None and rank(b) is not None and rank(b) > rank(a)]


def test_the_layer_check_finds_an_upward_import():
    assert layer_violations({"aslib.nets.x": {"aslib.store.y"}, "aslib.store.y": set()}, ["nets", "store"]) == \
        ["aslib.nets.x imports aslib.store.y"]
    assert layer_violations({"aslib.store.y": {"aslib.nets.x"}}, ["nets", "store"]) == []


def test_every_module_imports_only_from_its_layer_and_those_below():
    order = layers()
    on_disk = {name.split(".")[1] for name in modules() if name.count(".") >= 1} - {"_utils", "__main__"}
    assert on_disk == set(order), "the package docstring's list of layers and the folders on disk differ"
    assert layer_violations(graph(), order) == []


def test_imports_inside_functions_only_for_optional_dependencies():
    known = modules()
    lazy = [f"{path.relative_to(PACKAGE.parent)}:{node.lineno} imports {target}"
            for name, path in known.items() if name.split(".")[:2] != ["aslib", "cli"]
            for target, node, inside in imports(name, path, known)
            if inside and target.split(".")[0] not in OPTIONAL]
    assert lazy == []


def test_no_module_forwards_names_to_another():
    forwarders = [name for name, path in modules().items()
                  if any(isinstance(node, (ast.Assign, ast.FunctionDef)) and "__getattr__" in
                         ([t.id for t in node.targets if isinstance(t, ast.Name)] if isinstance(node, ast.Assign)
                          else [node.name]) for node in ast.parse(path.read_text()).body)]
    assert forwarders == []


def test_no_module_is_longer_than_400_lines():
    """Small modules with one job each: a module that grows past 400 lines is split by what it does."""
    lengths = {name: path.read_text().count("\n") for name, path in modules().items()}
    assert max(lengths.values()) > 100, "the walk lost the modules"
    assert {name: n for name, n in lengths.items() if n > 400} == {}


def test_no_class_is_longer_than_150_lines():
    """A class that grows past 150 lines holds more than one job: its readings or its strategies move out."""
    lengths = {f"{name}.{node.name}": node.end_lineno - node.lineno + 1 for name, path in modules().items()
               for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.ClassDef)}
    assert lengths["aslib.linalg.subspace.estimator.ActiveSubspace"] > 100, "the walk lost the estimator"
    assert {name: n for name, n in lengths.items() if n > 150} == {}
