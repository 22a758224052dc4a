"""The learner's language: what visionpath explains (the run's lines, the reasons for its choices, the data check,
the report, the one-sentence errors) in English or Japanese, through GNU gettext catalogs.

The English sentence in the code is the message; `locale/ja/LC_MESSAGES/visionpath.po` holds its Japanese, compiled
to the `.mo` file next to it that Python's own `gettext` reads (no dependency at run time). After changing a message:

    pybabel extract -k tr -k plural:2 -o /tmp/visionpath.pot src/visionpath      # babel is in the test extra
    pybabel update -i /tmp/visionpath.pot -d src/visionpath/locale -D visionpath --no-fuzzy-matching
    (translate the new entries)  pybabel compile -d src/visionpath/locale -D visionpath

tests/test_i18n.py fails until every message has its Japanese, with the same placeholders, and the .mo is current.
"""
from __future__ import annotations

import contextlib
import gettext
import locale
import os
import functools
from collections.abc import Callable, Iterator
from pathlib import Path

LANGUAGES = ("en", "ja")
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
_chosen: str | None = None  # set by --lang / use(); None: from the environment, as gettext reads it


def environment_language() -> str:
    """The language the person's environment asks for: VISIONPATH_LANG (also how processes a launch starts inherit
    --lang), then LANGUAGE, LC_ALL, LC_MESSAGES, LANG (gettext's order), else the system's locale (Windows sets none
    of those); English unless it is Japanese."""
    for variable in ("VISIONPATH_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(variable)
        if value:
            return "ja" if value.split(":")[0].lower().startswith("ja") else "en"
    try:
        system = locale.getlocale()[0] or ""
    except ValueError:
        system = ""
    return "ja" if system.lower().startswith(("ja", "japanese")) else "en"


def language() -> str:
    """The language messages are in now: "en" or "ja"."""
    return _chosen or environment_language()


def chosen_language() -> str | None:
    """The language --lang or set_language chose; None while it follows the environment."""
    return _chosen


def check_language(lang: str | None) -> str | None:
    """`lang` if it is one visionpath speaks (None: from the environment); else a one-sentence error."""
    if lang is not None and lang not in LANGUAGES:
        from .errors import VisionpathError  # here, not at the top: errors sits above this module
        raise VisionpathError(tr("--lang must be one of {languages}, not {lang!r}",
                                 languages=", ".join(LANGUAGES), lang=lang))
    return lang


def set_language(lang: str | None) -> None:
    """Speak `lang` ("en" or "ja") from now on in this process; None: follow the environment again."""
    global _chosen
    _chosen = check_language(lang)


@contextlib.contextmanager
def use(lang: str | None) -> Iterator[None]:
    """Speak `lang` inside the with-block (None: leave the language as it is), then as before."""
    global _chosen
    earlier = _chosen
    if lang is not None:
        set_language(lang)
    try:
        yield
    finally:
        _chosen = earlier


# Fonts with Japanese glyphs, as installed by Windows, macOS and common Linux packages (fonts-noto-cjk, fonts-ipaexfont)
JAPANESE_FONTS = ("Noto Sans CJK JP", "Noto Sans JP", "IPAexGothic", "IPAGothic", "Hiragino Sans", "Yu Gothic",
                  "Meiryo", "MS Gothic", "TakaoGothic", "VL Gothic")


# Their files' names, to find one installed after matplotlib cached its list of fonts
JAPANESE_FONT_FILES = ("notosanscjk", "notosansjp", "ipaexg", "ipag", "hiragino", "yugoth", "meiryo", "msgothic",
                       "takaogothic", "vl-gothic")


@functools.cache
def japanese_font() -> str | None:
    """The first font installed here that can draw Japanese, or None."""
    from matplotlib import font_manager  # here: only drawing needs matplotlib

    def known() -> str | None:
        installed = {font.name for font in font_manager.fontManager.ttflist}
        return next((name for name in JAPANESE_FONTS if name in installed), None)
    if known() is None:  # matplotlib lists the fonts once and caches the list: look for newer ones
        for path in font_manager.findSystemFonts():
            if Path(path).name.lower().replace("-", "").startswith(JAPANESE_FONT_FILES):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue
    return known()


def drawn_in_language(draw: Callable) -> Callable:
    """A figure-drawing function whose words follow the language when a font can draw them: Japanese figures use a
    Japanese font, with the default font for the rest; without one, the figure's words stay English (never boxes)."""
    @functools.wraps(draw)
    def drawing(*args, **kwargs):
        if language() != "ja":
            return draw(*args, **kwargs)
        font = japanese_font()
        if font is None:
            with use("en"):
                return draw(*args, **kwargs)
        import matplotlib
        with matplotlib.rc_context({"font.family": [font, "DejaVu Sans"]}):
            return draw(*args, **kwargs)
    return drawing


@functools.cache
def catalog(lang: str) -> gettext.NullTranslations:
    """The messages of `lang`, read once a process (English: the messages themselves)."""
    return gettext.translation("visionpath", LOCALE_DIR, languages=[lang], fallback=True)


def tr(message: str, /, **values: object) -> str:
    """`message` in the current language, its {placeholders} filled with `values`."""
    text = catalog(language()).gettext(message)
    return text.format(**values) if values else text  # no values, no formatting: braces stay as written


def plural(count: int, word: str) -> str:
    """"1 epoch", "3 epochs", "1,563 iterations"; in Japanese "3 エポック", "8 枚" (no plural forms; a counter where
    one is used)."""
    translated = catalog(language()).gettext(word)
    if translated != word:
        return f"{count:,} {translated}"
    return f"{count:,} {word}{('es' if word.endswith(('s', 'sh', 'x')) else 's') * (count != 1)}"
