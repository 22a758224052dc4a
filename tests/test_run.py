"""A finished run, opened again: its settings, its history, and its scores reproduced from its folder."""
import json

import pytest

import visionpath
from visionpath.errors import VisionpathError


def test_a_run_reopened_scores_what_training_scored(tiny_folder, tmp_path):
    run = visionpath.train(tiny_folder, project=tmp_path, model="mlp", epochs=2, batch_size=8, precision="fp32")
    again = visionpath.open_run(run.path)
    assert again.config == run.config and again.history == run.history
    reported = json.loads((run.path / "test_metrics.json").read_text())
    evaluation = again.evaluate()
    assert evaluation.accuracy == reported["accuracy"] and evaluation.confusion.tolist() == reported["confusion"]
    assert visionpath.evaluate(run.path, "validation").accuracy == max(r["val_accuracy"] for r in run.history)


def test_what_is_not_a_run(tmp_path):
    with pytest.raises(VisionpathError, match="is not a visionpath run folder"):
        visionpath.open_run(tmp_path)


def test_a_run_without_a_test_split_says_how_to_evaluate(tmp_path):
    from conftest import make_folder
    root = make_folder(tmp_path / "flat", per_class={"": 8})
    run = visionpath.train(root, project=tmp_path, model="mlp", epochs=1, batch_size=8, precision="fp32")
    with pytest.raises(VisionpathError, match="has no test split; add a test/ folder, or evaluate with --split val"):
        run.evaluate()
    with pytest.raises(VisionpathError, match="unknown --split 'holdout'"):
        run.evaluate("holdout")


@pytest.mark.slow
def test_a_test_picture_whose_near_copy_is_in_train_counts_as_seen_once_a_check_found_it(tmp_path, capsys):
    """A cropped, re-encoded copy of a training photo in test: not the same file, so training's quick check cannot
    tell; once `data check` has found it, evaluate scores it apart and says how it was seen."""
    from conftest import photo, photo_folder
    from visionpath.data.check import check_data
    root = photo_folder(tmp_path / "photos")
    photo(0).crop((3, 2, 62, 61)).save(root / "test" / "ant" / "cropped.jpg", quality=90)  # train/ant/0.png
    run = visionpath.train(root, project=tmp_path, model="mlp", epochs=1, batch_size=8, precision="fp32")
    assert "seen_in_training" not in json.loads((run.path / "test_metrics.json").read_text())
    assert [f.kind for f in check_data(root).findings if f.kind.startswith("near")] == ["near-leak"]
    capsys.readouterr()
    again = visionpath.open_run(run.path).evaluate()
    assert (again.seen, again.seen_near) == (1, 1) and int(again.unseen.confusion.sum()) == 6
    assert "1 test pictures are also in train (0 the same file, 1 a near copy that `visionpath data check` found)" \
           in capsys.readouterr().out


def test_a_test_split_that_leaks_is_scored_on_what_training_never_saw(tmp_path, capsys):
    import shutil
    from conftest import make_folder
    root = make_folder(tmp_path / "leaky", per_class={"train": 10, "validation": 4, "test": 4})
    for name in ("ant", "bee"):  # two training photos of each of two classes copied into test: 4 of 16 seen
        for i in (0, 1):
            shutil.copy(root / "train" / name / f"{i}.png", root / "test" / name / f"copy{i}.png")
    run = visionpath.train(root, project=tmp_path, model="mlp", epochs=1, batch_size=8, precision="fp32")
    saved = json.loads((run.path / "test_metrics.json").read_text())
    assert saved["seen_in_training"] == 4 and saved["unseen"]["pictures"] == 12
    assert "4 test pictures are also in train (the same file" in (run.path / "summary.txt").read_text()
    assert "4 test pictures are also in train" in (run.path / "report.html").read_text()
    again = visionpath.open_run(run.path).evaluate()
    assert again.seen == 4 and again.unseen.accuracy == saved["unseen"]["accuracy"]
    assert "on the 12 not seen in training" in capsys.readouterr().out


@pytest.mark.slow
def test_a_leak_scored_before_any_check_says_near_copies_were_not_looked_for(tmp_path, capsys):
    """Training finds the same file in seconds; near copies only a data check finds. Until one has looked at every
    picture, the score on the pictures not seen says it counted files only; after it, not."""
    import shutil
    from conftest import photo_folder
    from visionpath.data.check import check_data
    root = photo_folder(tmp_path / "photos")
    shutil.copy(root / "train" / "ant" / "0.png", root / "test" / "ant" / "copy.png")
    run = visionpath.train(root, project=tmp_path, model="mlp", epochs=1, batch_size=8, precision="fp32")
    assert json.loads((run.path / "test_metrics.json").read_text())["near_copies_looked_for"] is False
    assert "1 test pictures are also in train (the same file; near copies not looked for yet: `visionpath data " \
           "check` finds them, and scores leave them out once it has)" in (run.path / "summary.txt").read_text()
    check_data(root)
    capsys.readouterr()
    checked = visionpath.open_run(run.path).evaluate()
    assert (checked.seen, checked.seen_near, checked.near_looked_for) == (1, 0, True)
    out = capsys.readouterr().out
    assert "1 test pictures are also in train (the same file)" in out and "not looked for" not in out
