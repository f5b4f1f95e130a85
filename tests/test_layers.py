"""The layers of the code: which package may import which, the library usable with no web stack,
and the structure facts (no import cycle, short functions, one optimization loop) over the
library, the app and its web layer alike."""
from __future__ import annotations

import ast
import subprocess
import sys
from collections import Counter
from pathlib import Path

from conftest import ROOT

# (module prefix, layer): a module may import its own layer (without a cycle) and lower ones,
# never a higher one. The longest matching prefix wins. Lazy (function-level) imports count.
LAYERS = [
    ("nst_core.fields", 0),
    ("nst_core.imaging", 1), ("nst_core.optim", 1),
    ("nst_core.params", 2), ("nst_core.losses", 2), ("nst_core.records", 2),
    ("nst_core.settings", 3), ("nst_core.methods", 3),
    ("nst_core.job", 4),
    ("nst_core.engine", 5),
    ("nst_core.results", 6), ("nst_core.estimate", 6),
    ("nst_core.experiments", 7), ("nst_core", 7),  # nst_core: the package's face (__init__)
    ("nst_core.cli", 8), ("nst_core.__main__", 8),
    ("nst_studio.web", 9),
    ("nst_studio.ui", 10),
    ("nst_studio", 11), ("nst_studio.app", 11), ("app", 11),
]
WEB_STACK = ("gradio", "gradio_client", "spaces")
MAX_FUNCTION_LINES = 80


def layer(module: str) -> int | None:
    best = None
    for prefix, number in LAYERS:
        if module == prefix or module.startswith(prefix + "."):
            if best is None or len(prefix) > len(best[0]):
                best = (prefix, number)
    return None if best is None else best[1]


def modules() -> dict[str, Path]:
    """Every module of nst_core, nst_studio and the root app.py: dotted name -> path."""
    found = {"app": ROOT / "app.py"}
    for package in ("nst_core", "nst_studio"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


MODULES = modules()


def imports(name: str, path: Path) -> set[str]:
    """Absolute names of everything the module imports, anywhere in it (project modules by
    their module name: ``from .x import y`` is ``x``, or ``x.y`` when y is a module)."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = name.split(".") if is_package else name.split(".")[:-1]
                parts = parts[: len(parts) - (node.level - 1)]
                stem = ".".join(parts + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            for a in node.names:
                found.add(f"{stem}.{a.name}" if f"{stem}.{a.name}" in MODULES else stem)
    return found - {name}


def project_imports(name: str, path: Path) -> set[str]:
    out = set()
    for target in imports(name, path):
        while target and target not in MODULES:  # nst_core.settings.Settings -> its module
            target = target.rpartition(".")[0]
        if target and target != name:
            out.add(target)
    return out


GRAPH = {name: project_imports(name, path) for name, path in MODULES.items()}


def test_every_module_has_a_layer():
    assert [m for m in MODULES if layer(m) is None] == []


def test_no_module_imports_a_higher_layer():
    wrong = sorted(f"{m} (layer {layer(m)}) imports {t} (layer {layer(t)})"
                   for m, targets in GRAPH.items() for t in targets if layer(t) > layer(m))
    assert wrong == []


def test_only_the_cli_imports_the_cli():
    outside = sorted(f"{m} imports {t}" for m, targets in GRAPH.items() for t in targets
                     if t.startswith("nst_core.cli") and not m.startswith("nst_core.cli")
                     and m != "nst_core.__main__")
    assert outside == []


def test_no_import_cycles():
    index, low, stack, on, cycles = {}, {}, [], set(), []

    def strong(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in GRAPH[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in GRAPH:
        if v not in index:
            strong(v)
    assert cycles == []


def test_the_library_never_names_the_web_stack_nor_the_web_layer_gradio():
    # The web layer may ask for Hugging Face's `spaces` (ZeroGPU, optional); only the page
    # imports gradio.
    named = sorted(f"{m} imports {t}" for m, p in MODULES.items() for t in imports(m, p)
                   if (m.startswith("nst_core") and t.split(".")[0] in (*WEB_STACK, "nst_studio"))
                   or (m.startswith("nst_studio.web") and t.split(".")[0] in WEB_STACK[:2]))
    assert named == []


def test_the_library_and_the_web_layer_import_without_gradio():
    # gradio (and the rest of the web stack, and Ray) made unimportable: every module of the
    # library and of the web layer still imports.
    code = f"""
import importlib, pkgutil, sys
sys.modules.update(dict.fromkeys({(*WEB_STACK, "ray")!r}, None))
import nst_core, nst_studio.web
names = [m.name for p in (nst_core, nst_studio.web)
         for m in pkgutil.walk_packages(p.__path__, p.__name__ + ".")
         if not m.name.endswith("__main__")]
for n in names:
    importlib.import_module(n)
assert sys.modules["gradio"] is None
print(len(names))
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert int(done.stdout) == sum(1 for m in MODULES
                                   if m.startswith(("nst_core.", "nst_studio.web."))
                                   and m != "nst_core.__main__")


def test_nothing_but_the_cli_prints():
    printing = sorted(
        f"{p.relative_to(ROOT)}:{node.lineno}" for m, p in MODULES.items()
        if m.startswith("nst_core") and not m.startswith(("nst_core.cli", "nst_core.__main__"))
        for node in ast.walk(ast.parse(p.read_text()))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        and node.func.id == "print")
    assert printing == []


def test_one_loop_steps_an_optimizer():
    stepping = sorted(str(p.relative_to(ROOT)) for p in MODULES.values()
                      if ".step(closure)" in p.read_text() or "optimizer.step(" in p.read_text())
    assert stepping == ["nst_core/engine/loop.py"]


def test_functions_are_short():
    long = sorted(
        f"{p.relative_to(ROOT)}:{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for p in MODULES.values() for node in ast.walk(ast.parse(p.read_text()))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES)
    assert long == []


def test_test_files_have_unique_names():
    # pytest's default import mode needs it (tests/ has no __init__.py files).
    names = Counter(p.name for p in (ROOT / "tests").rglob("test_*.py"))
    assert [n for n, count in names.items() if count > 1] == []


def test_the_tests_mirror_the_packages():
    # Every test folder under tests/nst_core and tests/nst_studio names a package that exists.
    folders = [d for top in ("nst_core", "nst_studio") for d in (ROOT / "tests" / top).rglob("*")
               if d.is_dir() and d.name != "__pycache__"]
    assert folders and [str(d) for d in folders
                        if not (ROOT / d.relative_to(ROOT / "tests")).is_dir()] == []


def test_records_are_read_by_field():
    # A progress record's facts are typed (nst_core.records); their JSON view (.info) is for
    # result files, tests and benchmarks, never read by key inside the packages.
    by_key = sorted(f"{p.relative_to(ROOT)}:{n}" for m, p in MODULES.items()
                    if m != "nst_core.records"
                    for n, line in enumerate(p.read_text().splitlines(), 1)
                    if ".info[" in line or ".info.get(" in line)
    assert by_key == []
