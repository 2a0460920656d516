"""The package's shape, checked on its source: the stage order of imports and private names.

The stages run one way (``docs/architecture.md``): a module imports only from its own stage
or earlier ones, and never another module's private names (a leading underscore); private
*modules* (``_util``, ``_sky``) are shared only inside their own package, and the top-level
ones (``halfsib._progress``, ``halfsib._kernels``) by all of halfsib.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import halfsib

ROOT = Path(halfsib.__file__).resolve().parent

#: stage of every top-level module or subpackage; imports may only go to an equal or lower stage
STAGES: dict[str, float] = {
    # foundations: types, errors, the GP and the likelihood, the transit model, precision
    "exceptions": 0, "_atomic": 0, "_blas": 0, "_progress": 0, "_kernels": 0, "timeseries": 0, "transit": 0,
    "precision": 0, "gp": 0, "likelihood": 0, "design": 0, "plotting": 0,
    "io": 1, "simulate": 1.5, "regressors": 2, "results": 3, "model": 3, "breaks": 3, "search": 4,
    "pipeline": 4.5, "corrector": 4.5,  # one target: read, choose the design, fit, search
    "fit": 5, "ladder": 6, "vet": 6, "report": 7, "run": 8, "batch": 9, "injection": 9.5, "cli": 10,
    "__main__": 11, "__init__": 11,
}

#: third-party private attributes read on purpose, with the reason
ALLOWED_PRIVATE_ATTRIBUTES = {
    # celerite2's factorisation (t, c, U, W, d) for the numba kernels; pyproject pins celerite2 <0.4
    ("gp.py", "_t"), ("gp.py", "_c"), ("gp.py", "_U"), ("gp.py", "_W"), ("gp.py", "_d"),
    # batman's compiled model functions, without its per-call Python overhead; tested equal to
    # halfsib.transit.transit_flux, and fit/_model.py falls back to it when they are missing
    ("_model.py", "_rsky"), ("_model.py", "_quadratic_ld"),
}


def _sources() -> list[Path]:
    return sorted(ROOT.rglob("*.py"))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _target(path: Path, node: ast.ImportFrom) -> list[str]:
    """Dotted module path (from ``halfsib``) that a relative import names."""
    package = list(path.relative_to(ROOT.parent).parts[:-1])
    base = package[: len(package) - (node.level - 1)]
    return base + (node.module.split(".") if node.module else [])


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def test_every_module_has_a_stage():
    tops = {p.relative_to(ROOT).parts[0].removesuffix(".py") for p in _sources()}
    assert tops <= set(STAGES), f"give these a stage in STAGES and docs/architecture.md: {sorted(tops - set(STAGES))}"


def test_imports_run_with_the_stages():
    wrong = []
    for path in _sources():
        me = path.relative_to(ROOT).parts[0].removesuffix(".py")
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.ImportFrom) and node.level):
                continue
            target = _target(path, node)
            tops = [a.name for a in node.names] if len(target) == 1 else [target[1]]
            for top in tops:
                if top in STAGES and STAGES[top] > STAGES[me]:
                    wrong.append(f"{path.relative_to(ROOT)}:{node.lineno}: {me} (stage {STAGES[me]}) imports "
                                 f"{top} (stage {STAGES[top]})")
    assert not wrong, "\n".join(wrong)


def test_no_module_uses_another_modules_private_names():
    modules = {_module_name(p) for p in _sources()}
    wrong = []
    for path in _sources():
        tree = ast.parse(path.read_text())
        me = _module_name(path)
        own = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
        own |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store)}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level:
                target = ".".join(_target(path, node))
                for alias in node.names:
                    if not _private(alias.name):
                        continue
                    full = f"{target}.{alias.name}"
                    if full in modules:  # a private module: only inside its package (top level: everywhere)
                        if target != "halfsib" and not me.startswith(target + "."):
                            wrong.append(f"{path.relative_to(ROOT)}:{node.lineno}: private module {full}")
                    else:
                        wrong.append(f"{path.relative_to(ROOT)}:{node.lineno}: private name {alias.name} of {target}")
            elif isinstance(node, ast.Attribute) and _private(node.attr):
                if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                    continue
                if node.attr in own or (path.name, node.attr) in ALLOWED_PRIVATE_ATTRIBUTES:
                    continue
                wrong.append(f"{path.relative_to(ROOT)}:{node.lineno}: private attribute .{node.attr} of "
                             f"{ast.unparse(node.value)}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("source, message", [
    ("from .model import _Objective\n", "private name _Objective"),
    ("x = other._cache\n", "private attribute ._cache"),
])
def test_the_private_name_check_catches_a_violation(tmp_path, monkeypatch, source, message):
    """The check above can fail: a module written with a violation is reported."""
    bad = ROOT / "zz_architecture_probe.py"
    monkeypatch.setattr(__import__(__name__), "_sources", lambda: [bad])
    original = Path.read_text
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: source if self == bad else original(self, *a, **k))
    with pytest.raises(AssertionError, match=message.replace(".", r"\.")):
        test_no_module_uses_another_modules_private_names()
