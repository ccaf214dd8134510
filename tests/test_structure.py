"""The structure drawn from the imports: no cycles between the package's modules, and no
module using another module's private (``_name``) helpers (docs/architecture.md)."""

import ast
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "clvmodels"


def module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports():
    """module -> set of package modules it imports (module level and inside functions), and
    the private names imported from other modules."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph, private = {}, []
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("clvmodels"):
                continue
            for alias in node.names:
                full = f"{target}.{alias.name}"
                deps.add(full if full in modules else target)
                if alias.name.startswith("_") and target in modules and target != name:
                    private.append(f"{name} imports {target}.{alias.name}")
        graph[name] = {d for d in deps if d in modules and d != name}
    return graph, private


def test_no_import_cycles():
    graph, _ = imports()
    graph = {m: {d for d in deps if d != "clvmodels"} for m, deps in graph.items()
             if m != "clvmodels"}  # the package's __init__ only re-exports
    state, cycles = {}, []

    def visit(node, stack):
        state[node] = "open"
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == "open":
                cycles.append(stack[stack.index(dep):] + [dep])
            elif dep not in state:
                visit(dep, stack + [dep])
        state[node] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_no_private_names_across_modules():
    _, private = imports()
    allowed = ("clvmodels._math",)  # the formulas' package is private to clvmodels, used by all
    assert [p for p in private if not any(a in p.split(" imports ")[1] for a in allowed)] == []


def test_estimators_keep_a_small_public_surface():
    """What a user calls plus the helpers a model author uses (docs/adding-a-model.md); the
    estimators' internal hooks are protected. A class growing past this is a sign to split it."""
    from clvmodels.models import MODELS

    for entry in MODELS.values():
        for cls in (entry.mle, entry.bayesian):
            public = [n for n in dir(cls) if not n.startswith("_")]
            assert len(public) <= 60, (cls.__name__, len(public))
