"""The optional extras: a package only some users need is imported here, or one sentence says what needs it and
the command that installs it (`pip install 'visionpath[EXTRA]'`, the extras of pyproject.toml)."""
from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from .errors import VisionpathError
from .i18n import tr


def missing(purpose: str, package: str, extra: str) -> str:
    """The sentence for an optional package that is not installed: what needs it, and how to install it."""
    return tr("{purpose} needs {package}, which is not installed: pip install 'visionpath[{extra}]'",
              purpose=purpose, package=package, extra=extra)


def require(module: str, extra: str, purpose: str, package: str | None = None,
            error: type[VisionpathError] = VisionpathError) -> ModuleType:
    """`module` imported, or `error` with missing()'s sentence (`package`: its name on PyPI, when not the module's).
    The error is raised from None: the ImportError's traceback tells a user nothing more."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise error(missing(purpose, package or module, extra)) from None


def installed(module: str) -> bool:
    """Whether `module` can be imported, without importing it (a check before any work starts)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package missing; a module set to None in sys.modules
        return False
