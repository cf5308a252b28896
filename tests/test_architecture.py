"""The package's import graph: no cycles (imports inside functions included), lower floors never import
upper ones, and no module reaches into another module's or object's private names.

Every module of ``bayes_scaling`` declares its floor in the first line of its docstring
("Floor N. ..."); the README's Development section lists them.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "bayes_scaling"
ROOT = "bayes_scaling"

#: Upward imports allowed inside a function, with the reason. ScalingFit keeps the convenience
#: methods of the README quick start (fit.predict, fit.frontier): thin wrappers over the analyses,
#: which take the fit as an argument and never import the posterior module (so no cycle).
ALLOWED_UPWARD = {
    ("bayes_scaling.posterior", "bayes_scaling.predict"): "ScalingFit.predict, a convenience wrapper",
    ("bayes_scaling.posterior", "bayes_scaling.decisions"): "ScalingFit.frontier, a convenience wrapper",
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _resolve(module: str, level: int, target: str | None) -> str:
    """Absolute name of a relative import ``from {'.' * level}{target} import ...`` in ``module``."""
    base = module.split(".") if _is_package(module) else module.split(".")[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


class _Imports(ast.NodeVisitor):
    """Package-internal imports of one module: (imported module, imported names, inside a function, line)."""

    def __init__(self, module: str):
        self.module = module
        self.depth = 0
        self.found: list[tuple[str, list[str], bool, int]] = []

    def _function(self, node):
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_Import(self, node: ast.Import):
        for alias in node.names:
            if alias.name == ROOT or alias.name.startswith(ROOT + "."):
                self.found.append((alias.name, [], self.depth > 0, node.lineno))

    def visit_ImportFrom(self, node: ast.ImportFrom):
        if node.level:
            target = _resolve(self.module, node.level, node.module)
        elif node.module and (node.module == ROOT or node.module.startswith(ROOT + ".")):
            target = node.module
        else:
            return
        names = [a.name for a in node.names]
        for name in names:  # `from . import risk` imports the submodule risk
            sub = f"{target}.{name}"
            if sub in MODULES:
                self.found.append((sub, [], self.depth > 0, node.lineno))
        plain = [n for n in names if f"{target}.{n}" not in MODULES]
        if plain:
            self.found.append((target, plain, self.depth > 0, node.lineno))


def _imports() -> dict[str, list[tuple[str, list[str], bool, int]]]:
    out = {}
    for name, path in MODULES.items():
        visitor = _Imports(name)
        visitor.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        out[name] = visitor.found
    return out


IMPORTS = _imports()


def _docstring_floor(name: str) -> int | None:
    doc = ast.get_docstring(ast.parse(MODULES[name].read_text(encoding="utf-8"))) or ""
    m = re.match(r"Floor (\d+)\.", doc)
    return int(m.group(1)) if m else None


FLOORS = {name: _docstring_floor(name) for name in MODULES}


def _floor(name: str) -> int | None:
    return FLOORS[name]


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of the graph (as a path that returns to its start), or None."""
    colour = dict.fromkeys(graph, 0)  # 0 unseen, 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node):
        colour[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if colour.get(nxt, 0) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if colour.get(nxt, 0) == 0:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        colour[node] = 2
        return None

    for start in sorted(graph):
        if colour[start] == 0:
            found = visit(start)
            if found:
                return found
    return None


def test_the_module_list_is_the_package():
    # a sanity check that the parser sees the package (a renamed directory would make every check vacuous)
    assert {"bayes_scaling", "bayes_scaling.posterior", "bayes_scaling.predict", "bayes_scaling.cli",
            "bayes_scaling.baselines.huber", "bayes_scaling.backtest.runner"} <= set(MODULES)
    assert sum(len(v) for v in IMPORTS.values()) > 100


def test_no_import_cycle_counting_imports_inside_functions():
    graph = {m: {t for t, _, _, _ in found if t in MODULES and t != m} for m, found in IMPORTS.items()}
    cycle = _cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_check_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_every_module_declares_its_floor():
    missing = sorted(m for m in MODULES if _floor(m) is None)
    assert missing == [], f"modules whose docstring does not start with 'Floor N.': {missing}"


def test_lower_floors_never_import_upper_ones():
    upward = []
    for module, found in IMPORTS.items():
        for target, _, inside, line in found:
            if target not in MODULES or target == module:
                continue
            if _floor(target) > _floor(module):
                if inside and (module, target) in ALLOWED_UPWARD:
                    continue
                upward.append(f"{module} (floor {_floor(module)}) imports {target} (floor {_floor(target)}) "
                              f"at line {line}")
    assert upward == []


def test_no_module_imports_a_private_name_of_another():
    private = []
    for module, found in IMPORTS.items():
        for target, names, _, line in found:
            for n in names:
                if n.startswith("_") and not (n.startswith("__") and n.endswith("__")) and target != module:
                    private.append(f"{module}:{line} imports {n} from {target}")
    assert private == []


class _PrivateAttributes(ast.NodeVisitor):
    """``x._name`` where ``x`` is not ``self``, ``cls`` or ``super()`` (a private name of another object or module)."""

    def __init__(self):
        self.found: list[tuple[int, str]] = []

    def visit_Attribute(self, node: ast.Attribute):
        name = node.attr
        if name.startswith("_") and not (name.startswith("__") and name.endswith("__")):
            owner = node.value
            own = isinstance(owner, ast.Name) and owner.id in ("self", "cls")
            own = own or (isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name) and owner.func.id == "super")
            if not own:
                self.found.append((node.lineno, ast.unparse(node)))
        self.generic_visit(node)


def test_no_module_reaches_into_private_attributes_of_other_objects():
    found = []
    for module, path in MODULES.items():
        visitor = _PrivateAttributes()
        visitor.visit(ast.parse(path.read_text(encoding="utf-8")))
        found += [f"{module}:{line}: {text}" for line, text in visitor.found]
    assert found == []


@pytest.mark.parametrize("source, expected", [
    ("fit._flat('tau')", ["fit._flat"]),
    ("predict._new_domain_draws(fit, rng)", ["predict._new_domain_draws"]),
    ("self._slot(v, d); super()._check(); cls._cache; fit.__class__", []),
])
def test_the_private_attribute_check_sees_what_the_review_found(source, expected):
    visitor = _PrivateAttributes()
    visitor.visit(ast.parse(source))
    assert [text for _, text in visitor.found] == expected


def test_the_upward_allowance_is_still_needed():
    """Each allowed upward import exists (an allowance nobody uses is removed), inside a function."""
    seen = {(m, t) for m, found in IMPORTS.items() for t, _, inside, _ in found if inside}
    assert set(ALLOWED_UPWARD) <= seen


def _readme_modules() -> set[str]:
    readme = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Development"):]
    return {m for m in re.findall(r"^\| \d \| `([\w/.]+)`", section, flags=re.M)}


def test_the_readme_layout_lists_every_module_once():
    listed = _readme_modules()
    files = {str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")}
    # a subpackage is listed by its modules (datasets/ by its directory); its __init__ only re-exports
    expected = {f for f in files if not (f.endswith("/__init__.py") and f != "datasets/__init__.py")}
    expected = {"datasets/" if f == "datasets/__init__.py" else f for f in expected}
    assert listed == expected


def test_tests_mirror_the_package():
    """tests/test_<module>.py for every module (subpackages: one file each; _version.py holds a constant)."""
    tests = {p.stem for p in (PACKAGE.parent / "tests").glob("test_*.py")}
    wanted = set()
    for name in MODULES:
        parts = name.split(".")[1:]
        if not parts or parts[-1] == "_version":
            continue
        wanted.add("test_" + parts[0].lstrip("_"))
    assert wanted - tests == set()
