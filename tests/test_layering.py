"""Data flows one way: the modules are declared in named groups, bottom to top; a module imports only modules of
its own group or the groups below it, the imports have no cycle, and no import is tucked inside a function to dodge
either. Files stay rooms a reader can hold: no function over 80 lines, no file over 500."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "visionpath"

# Bottom to top. Peers in a group may import one another (without a cycle); a group imports only the groups below
# it. A new module joins the group of what it is, not a place in one long order. "" is the package's __init__.
LAYERS = {
    "basics: errors, sentences in two languages, files written whole, the terminal": [
        "errors", "version", "i18n", "extras", "options", "files", "console", "html_page"],
    "data: datasets, folders of pictures, the picture cache, the data check": [
        "data.download", "data.images", "data.near", "data.cache", "data.builtin", "data.sets", "data.layout",
        "data.folder", "data.split", "data", "data.leaks", "data.suspects", "data.check_page", "data.check",
        "data.dedupe"],
    "models and what they run on: networks, checkpoints, augmentation, devices, processes, optimisers": [
        "models.kernels", "models.scratch", "models.transfer", "models.registry", "models.running", "models",
        "checkpoint", "augment", "devices", "speed", "distributed", "optim"],
    "settings: what a run is given, what it decides, the run folder on disk": [
        "config", "frozen_probe", "photo_plan", "defaults", "run_files"],
    "results: scores, reports, prediction, export, serving, a run as an object": [
        "inside", "report", "evaluate", "report_html", "tensorboard_log", "export", "predict", "serve", "run"],
    "training: the entry and its rooms": [
        "training", "training.start", "training.pictures", "training.model", "training.stopping", "training.state",
        "training.stages", "training.loop", "training.finish", "training.launcher", "train", "lr_find"],
    "search: many runs": ["tuning", "tuning.space", "tuning.storage", "tuning.study", "tuning.page",
                          "tune"],
    "studio: the whole path in a browser": ["studio.project", "studio.trainer", "studio.app", "studio"],
    "commands: the command line and the package": ["cli", "", "__main__"],
}
GROUP = {module: rank for rank, modules in enumerate(LAYERS.values()) for module in modules}
# why 500: a file a newcomer reads in one sitting; past it, a file has become two rooms (train.py grew to 1,192
# lines, holding the loop, the launcher, resume and stopping, before it became the training/ package)
MOST_LINES = 500


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


def test_every_module_is_placed_in_one_group():
    modules = {module_name(p) for p in PACKAGE.rglob("*.py")}
    placed = [module for group in LAYERS.values() for module in group]
    assert len(placed) == len(set(placed)) and modules == set(placed), (modules - set(placed), set(placed) - modules)


def upward_imports(path: Path, name: str) -> list[str]:
    return [f"{name or 'visionpath'} imports {target or 'visionpath'}" for target in sorted(imported(path, name))
            if GROUP[target] > GROUP[name]]


def test_each_module_imports_only_its_group_or_below():
    upward = [line for path in sorted(PACKAGE.rglob("*.py")) for line in upward_imports(path, module_name(path))]
    assert upward == []


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The cycles of imports in `graph` (module -> the modules it imports), one path each, found depth-first."""
    cycles, done, path = [], set(), []

    def visit(module: str) -> None:
        if module in path:
            cycles.append(path[path.index(module):] + [module])
            return
        if module in done:
            return
        path.append(module)
        for target in sorted(graph.get(module, ())):
            visit(target)
        path.pop()
        done.add(module)
    for module in sorted(graph):
        visit(module)
    return cycles


def test_no_module_imports_itself_through_others():
    graph = {module_name(p): imported(p, module_name(p)) - {module_name(p)} for p in PACKAGE.rglob("*.py")}
    assert import_cycles(graph) == []
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]


def test_the_check_finds_imports_anywhere_and_flags_an_upward_one(tmp_path):
    assert imported(PACKAGE / "models" / "registry.py", "models.registry") == {
        "errors", "i18n", "models.scratch", "models.transfer"}
    assert imported(PACKAGE / "data" / "builtin.py", "data.builtin") == {"console", "errors", "files", "i18n",
                                                                          "data.download"}
    dodge = tmp_path / "report.py"
    dodge.write_text("from .errors import VisionpathError\n\n\ndef plot():\n    from .train import train\n")
    assert upward_imports(dodge, "report") == ["report imports train"]


def test_every_file_fits_in_500_lines():
    long = [f"{path.relative_to(PACKAGE)} ({n} lines)" for path in sorted(PACKAGE.rglob("*.py"))
            if (n := len(path.read_text().splitlines())) > MOST_LINES]
    assert long == []


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
