"""Data flows one way: each module imports only modules below it in one declared order, so there is no cycle,
and no import is tucked inside a function to dodge one."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "visionpath"

# Bottom to top. A module may import only modules listed before it ("" is the package's own __init__).
LAYERS = [
    "errors", "i18n", "checks", "version", "files", "console", "html_page",
    "data.download", "data.images", "data.near", "data.cache", "data.builtin", "data.folder", "data", "data.suspects",
    "data.check_page",
    "data.check", "data.dedupe",
    "models.kernels", "models.scratch", "models.transfer", "models.registry", "models.running", "models",
    "augment", "checkpoint", "devices", "distributed", "optim",
    "config", "frozen_probe", "defaults", "run_folder", "inside",
    "report", "evaluate", "report_html", "tensorboard_log", "export", "predict", "serve", "runs",
    "train", "lr_find", "tune",
    "cli", "", "__main__",
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported(path: Path, name: str) -> set[str]:
    """The visionpath modules the file of module `name` imports, anywhere in it (functions included)."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - node.level + 1] if node.level > 1 else package
            target = ".".join(base + ([node.module] if node.module else []))
            found.add(target.strip("."))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("visionpath"):
            found.add(node.module.removeprefix("visionpath").strip("."))
        elif isinstance(node, ast.Import):
            found |= {a.name.removeprefix("visionpath").strip(".") for a in node.names
                      if a.name.startswith("visionpath")}
    return found


def test_every_module_is_placed_in_the_layers():
    modules = {module_name(p) for p in PACKAGE.rglob("*.py")}
    assert modules == set(LAYERS), (modules - set(LAYERS), set(LAYERS) - modules)


def upward_imports(path: Path, name: str) -> list[str]:
    rank = {layer: i for i, layer in enumerate(LAYERS)}
    return [f"{name or 'visionpath'} imports {target or 'visionpath'}" for target in sorted(imported(path, name))
            if rank[target] >= rank[name]]


def test_each_module_imports_only_modules_below_it():
    upward = [line for path in sorted(PACKAGE.rglob("*.py")) for line in upward_imports(path, module_name(path))]
    assert upward == []


def test_the_check_finds_imports_anywhere_and_flags_an_upward_one(tmp_path):
    assert imported(PACKAGE / "models" / "registry.py", "models.registry") == {
        "errors", "i18n", "models.scratch", "models.transfer"}
    assert imported(PACKAGE / "data" / "builtin.py", "data.builtin") == {"console", "errors", "files", "i18n",
                                                                          "data.download"}
    dodge = tmp_path / "report.py"
    dodge.write_text("from .errors import VisionpathError\n\n\ndef plot():\n    from .train import train\n")
    assert upward_imports(dodge, "report") == ["report imports train"]


def test_every_function_fits_in_80_lines():
    long = [f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for path in sorted(PACKAGE.rglob("*.py"))
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 80]
    assert long == []


@pytest.mark.slow
def test_importing_visionpath_leaves_matplotlib_as_it_was(tmp_path):
    """A notebook's plotting backend stays its own: the library draws on Figure objects, never through pyplot."""
    import os
    import subprocess
    import sys
    script = ("import matplotlib; matplotlib.use('svg'); import visionpath\n"
              "from visionpath.report import plot_curves\n"
              "plot_curves([{'epoch': 1, 'train_loss': 1.0, 'val_loss': 1.0, 'train_accuracy': 0.5, "
              "'val_accuracy': 0.5}], 'c.png')\n"
              "import matplotlib.pyplot as plt; print(matplotlib.get_backend(), len(plt.get_fignums()))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(PACKAGE.parent)})  # this source tree's visionpath
    assert done.stdout.split() == ["svg", "0"], done.stderr
    assert (tmp_path / "c.png").stat().st_size > 10_000
