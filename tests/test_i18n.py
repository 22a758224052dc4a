"""Learner output in the learner's language: every message has its Japanese with the same placeholders, the
catalog is current with the code, and `--lang ja` (or $LANG) turns a run, its report and its errors Japanese."""
from __future__ import annotations

import io
import re
import string
from pathlib import Path

import pytest

from visionpath import i18n
from visionpath.cli import main

babel = pytest.importorskip("babel", reason="the catalog tests need babel: pip install -e '.[test]'")
from babel.messages.extract import extract_from_dir  # noqa: E402
from babel.messages.mofile import read_mo, write_mo  # noqa: E402
from babel.messages.pofile import read_po  # noqa: E402

PACKAGE = Path(i18n.__file__).parent
PO = PACKAGE / "locale" / "ja" / "LC_MESSAGES" / "visionpath.po"
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def catalog():
    with open(PO, "rb") as f:
        return read_po(f)


def placeholders(text: str) -> set[tuple[str, str, str]]:
    """The {name!conversion:spec} fields of a message."""
    return {(name, conversion or "", spec or "") for _, name, spec, conversion in string.Formatter().parse(text)
            if name is not None}


def test_every_message_in_the_code_has_its_japanese_with_the_same_placeholders():
    in_code = {found[2] for found in extract_from_dir(
        str(PACKAGE), method_map=[("**.py", "python")], keywords={"tr": None, "plural": (2,)})}
    translated = {m.id: m.string for m in catalog() if m.id}
    assert in_code - set(translated) == set(), "new messages: see src/visionpath/i18n.py to add their Japanese"
    assert set(translated) - in_code == set(), "messages the code no longer has: pybabel update removes them"
    assert [m for m, ja in translated.items() if not ja.strip()] == []
    assert [m for m, ja in translated.items() if placeholders(m) != placeholders(ja)] == []
    prose = [m for m in translated if len(re.findall(r"[A-Za-z]{2,}", re.sub(r"\{[^}]*\}|--[a-z-]+", "", m))) > 1]
    assert [m for m in prose if not JAPANESE.search(translated[m])] == ["  precision  recall     f1  support"]


def test_every_message_can_be_written_in_both_languages():
    for message in (m.id for m in catalog() if m.id):
        values = {name: 1.5 if spec and spec[-1] in "fge%" else 1234 if spec else "x"
                  for name, _, spec in placeholders(message)}
        for language in i18n.LANGUAGES:
            with i18n.use(language):
                written = i18n.tr(message, **values) if values else i18n.tr(message)
            assert "{" not in written.replace("{{", "") or message.count("{") > len(values), (language, message)


def test_the_compiled_catalog_is_the_po_file():
    with open(PO.with_suffix(".mo"), "rb") as f:
        compiled = {m.id: m.string for m in read_mo(f) if m.id}
    assert compiled == {m.id: m.string for m in catalog() if m.id}, \
        "the .mo is stale: pybabel compile -d src/visionpath/locale -D visionpath"
    buffer = io.BytesIO()
    write_mo(buffer, catalog())  # and it compiles without complaint


def test_the_language_comes_from_the_flag_then_the_environment(monkeypatch):
    for variable in ("VISIONPATH_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("LANG", "ja_JP.UTF-8")
    assert i18n.language() == "ja" and i18n.tr("interrupted") == "中断しました"
    assert i18n.plural(3, "epoch") == "3 エポック"
    with i18n.use("en"):
        assert i18n.language() == "en" and i18n.plural(3, "epoch") == "3 epochs" and i18n.plural(2, "pass") == "2 passes"
    assert i18n.language() == "ja"  # the block ended: the environment again
    monkeypatch.setenv("LANGUAGE", "en_GB:ja")  # gettext's order: LANGUAGE before LANG
    assert i18n.language() == "en"
    monkeypatch.setenv("VISIONPATH_LANG", "ja")
    assert i18n.language() == "ja"


def test_train_with_lang_ja_explains_in_japanese_and_writes_a_japanese_report(tiny_folder, tmp_path, capsys):
    assert main(["train", str(tiny_folder), "--model", "mlp", "--epochs", "3", "--batch-size", "8", "--width", "16",
                 "--precision", "fp32", "--project", str(tmp_path / "runs"), "--lang", "ja"]) == 0
    out = capsys.readouterr().out
    assert "3 エポック × 4 イテレーション × 8 枚 = 12 ステップ" in out  # the step arithmetic
    assert "エポック 3/3 · 4 イテレーション × 8 枚" in out and "診断：" in out
    assert "train：3 クラスの画像 30 枚" in out
    report = (tmp_path / "runs" / "photos-mlp-1" / "report.html").read_text()
    assert "<html lang='ja'>" in report and "<h2>コマンドと設定</h2>" in report and "混同行列" in report
    assert main(["train", str(tiny_folder), "--model", "mlp", "--epochs", "1", "--batch-size", "8", "--width", "16",
                 "--precision", "fp32", "--project", str(tmp_path / "runs")]) == 0
    assert "1 epoch × 4 iterations × 8 images" in capsys.readouterr().out  # English again without the flag


def test_errors_are_one_japanese_sentence(tmp_path, capsys):
    assert main(["train", str(tmp_path / "nowhere"), "--lang", "ja"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("エラー：") and "組み込みデータセット" in err and "Traceback" not in err
    assert main(["--lang", "ja", "predict", str(tmp_path / "nowhere"), "x.png"]) == 2  # before the command too
    assert capsys.readouterr().err.startswith("エラー：")
    with pytest.raises(SystemExit):
        main(["train", "mnist", "--lang", "fr"])
    assert "invalid choice: 'fr'" in capsys.readouterr().err


@pytest.mark.parametrize("argv, japanese, english", [
    (["train", "mnist", "--epochs", "x"], "引数 --epochs: int として無効な値です: 'x'",
     "argument --epochs: invalid int value: 'x'"),
    (["trian"], "無効な選択です: 'trian'", "argument COMMAND: invalid choice: 'trian' (choose from 'train'"),
    (["train", "mnist", "--bogus", "1"], "認識できない引数です: --bogus 1", "unrecognized arguments: --bogus 1"),
    (["evaluate"], "次の引数が必要です: run", "the following arguments are required: run"),
])
def test_argparse_own_errors_are_said_in_the_learners_language(capsys, argv, japanese, english):
    """An unknown flag or a bad number (argparse's sentences, English only before), with --lang ja anywhere on the
    line; in English as argparse writes them."""
    for lang_first in (True, False):
        with pytest.raises(SystemExit) as stop:
            main(["--lang", "ja", *argv] if lang_first else [*argv, "--lang=ja"])
        err = capsys.readouterr().err
        assert stop.value.code == 2 and "エラー：" in err and japanese in err, err
    with pytest.raises(SystemExit):
        main(["--lang", "en", *argv])
    assert f"error: {english}" in capsys.readouterr().err


def test_figures_speak_japanese_only_with_a_font_that_can_draw_it(monkeypatch):
    import matplotlib

    def title() -> tuple[str, list]:
        return i18n.tr("accuracy against training time"), list(matplotlib.rcParams["font.family"])

    drawn = i18n.drawn_in_language(title)
    with i18n.use("ja"):
        monkeypatch.setattr(i18n, "japanese_font", lambda: None)
        assert drawn() == ("accuracy against training time", list(matplotlib.rcParams["font.family"]))  # no boxes
        monkeypatch.setattr(i18n, "japanese_font", lambda: "IPAexGothic")
        text, family = drawn()
        assert text == "正解率と学習時間" and family[0] == "IPAexGothic"
