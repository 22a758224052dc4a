"""The learning-curve diagnosis, on histories made here, and the curves it shades."""
import json

import numpy as np

import pytest

from visionpath.config import TrainConfig
from visionpath.report import compare_runs, diagnose, plot_curves, training_summary
from visionpath.run_files import kept_epoch


def history(train_loss, val_loss, train_acc, val_acc):
    return [{"epoch": i + 1, "time": float(i + 1), "train_loss": tl, "val_loss": vl, "train_accuracy": ta,
             "val_accuracy": va} for i, (tl, vl, ta, va) in enumerate(zip(train_loss, val_loss, train_acc, val_acc))]


OVERFIT = history(train_loss=[1.5, 1.0, 0.7, 0.4, 0.2, 0.1, 0.05, 0.02],
                  val_loss=[1.4, 1.1, 0.95, 1.0, 1.1, 1.3, 1.5, 1.7],
                  train_acc=[0.45, 0.65, 0.75, 0.85, 0.93, 0.97, 0.99, 1.0],
                  val_acc=[0.48, 0.62, 0.68, 0.69, 0.69, 0.68, 0.68, 0.67])
UNDERFIT = history(train_loss=[2.2, 2.1, 2.05, 2.0, 1.98], val_loss=[2.2, 2.1, 2.05, 2.0, 1.99],
                   train_acc=[0.2, 0.25, 0.27, 0.29, 0.3], val_acc=[0.21, 0.25, 0.27, 0.29, 0.3])
HEALTHY = history(train_loss=[0.5, 0.2, 0.1, 0.08, 0.07], val_loss=[0.3, 0.15, 0.1, 0.09, 0.085],
                  train_acc=[0.85, 0.94, 0.97, 0.975, 0.978], val_acc=[0.9, 0.95, 0.968, 0.971, 0.972])


def test_overfitting_names_the_epoch_the_gap_and_the_flags():
    d = diagnose(OVERFIT, TrainConfig(augment="none"))
    assert d.verdict == "overfitting" and d.began == 4
    assert d.gap == pytest.approx(0.33)
    assert "from epoch 4" in d.text and "33.0 points" in d.text
    assert "--augment standard" in d.text and "--dropout" in d.text


def test_remedies_skip_what_is_already_used():
    d = diagnose(OVERFIT, TrainConfig(augment="standard", dropout=0.3, weight_decay=5e-4))
    assert "--augment strong" in d.text and "--dropout" not in d.text and "--early-stopping" in d.text


def test_a_rising_validation_loss_with_accuracy_still_at_its_best_is_not_overfitting():
    # fine-tuning at the end of its schedule grows confident: the loss rises while accuracy still climbs
    confident = history(train_loss=[1.0, 0.6, 0.4, 0.3, 0.2], val_loss=[0.9, 0.6, 0.5, 0.52, 0.56],
                        train_acc=[0.7, 0.8, 0.88, 0.92, 0.95], val_acc=[0.7, 0.78, 0.82, 0.84, 0.86])
    assert diagnose(confident).verdict != "overfitting"
    falling = confident[:-1] + [{**confident[-1], "val_accuracy": 0.83}]
    assert diagnose(falling).verdict == "overfitting"


def test_a_pretrained_run_that_kept_its_best_epoch_is_told_no_remedy_that_measured_worse():
    d = diagnose(OVERFIT, TrainConfig(pretrained=True, early_stopping=3, augment="standard"))
    assert d.verdict == "overfitting" and "more photos a class: early stopping kept epoch 4" in d.text
    assert "--augment" not in d.text and "--dropout" not in d.text and "--weight-decay" not in d.text


def test_overfitting_seen_in_accuracy_alone():
    flat_loss = history(train_loss=[1.0, 0.6, 0.4, 0.3, 0.2, 0.15], val_loss=[1.0, 0.8, 0.75, 0.74, 0.74, 0.745],
                        train_acc=[0.6, 0.8, 0.88, 0.92, 0.95, 0.97], val_acc=[0.6, 0.74, 0.78, 0.79, 0.785, 0.785])
    assert diagnose(flat_loss).verdict == "overfitting"


def test_underfitting_and_healthy():
    under = diagnose(UNDERFIT, TrainConfig())
    assert under.verdict == "underfitting" and "30.0%" in under.text and "bigger model" in under.text
    assert "more epochs" in under.text  # it was still improving
    healthy = diagnose(HEALTHY)
    assert healthy.verdict == "healthy" and "gap 0.6 points" in healthy.text


def test_regularised_and_still_rising_is_not_underfitting():
    d = diagnose(UNDERFIT, TrainConfig(augment="standard", dropout=0.1))
    assert d.verdict == "healthy" and "still improving" in d.text and "--epochs 10" in d.text


def test_too_short_to_tell_in_plain_english_for_one_epoch_too(tmp_path):
    assert diagnose(HEALTHY[:2]).verdict == "too short to tell"
    assert diagnose(HEALTHY[:1]).text == ("diagnosis: too few epochs (1) to tell overfitting from underfitting; train "
                                          "for at least 3.")  # not "1 epoch are too few"
    one = training_summary(tmp_path, TrainConfig(model="mlp"), HEALTHY[:1], HEALTHY[0], None, False)
    assert one.startswith(f"run {tmp_path}: mlp on mnist, 1 epoch in 1.0s (1.00s per epoch)")  # not "1 epochs"
    assert ", 5 epochs in 5.0s" in training_summary(tmp_path, TrainConfig(model="mlp"), HEALTHY, HEALTHY[-1], None,
                                                    False)


@pytest.mark.slow
def test_curves_are_drawn_for_every_verdict(tmp_path):
    from PIL import Image
    for i, h in enumerate((OVERFIT, UNDERFIT, HEALTHY, HEALTHY[:1])):
        plot_curves(h, tmp_path / f"{i}.png")
        assert Image.open(tmp_path / f"{i}.png").size == (1210, 462)  # 11 × 4.2 inches at 110 dpi
    def pale_red(name):  # tab:red at 8% over white
        r, g, b = np.asarray(Image.open(tmp_path / name).convert("RGB")).astype(int).transpose(2, 0, 1)
        return int(((r > 240) & (g > 220) & (g < 245) & (b > 220) & (b < 245) & (r - g > 8)).sum())
    assert pale_red("0.png") > 20_000 and pale_red("2.png") < 2_000  # overfitting epochs shaded; healthy, none


def test_report_html_is_self_contained_and_complete(tiny_folder, tmp_path):
    import html
    import re

    import visionpath
    run = visionpath.train(tiny_folder, project=tmp_path, model="mlp", epochs=2, batch_size=8, width=8,
                           precision="fp32")
    page = (run.path / "report.html").read_text()
    for section in ("Command and settings", "Data", "Learning curves", "Confusion matrix (test)", "Per class",
                    "Most confused", "Misclassified pictures"):
        assert section in page, section
    assert f"<code>{html.escape(run.config.command_line())}</code>" in page  # the command that repeats the run
    assert not re.search(r"(src|href)=['\"](?!data:)", page)  # nothing fetched from anywhere: it can be mailed
    assert page.count("data:image/png;base64,") >= 3
    assert run.report() == run.path / "report.html"  # again from the command, reloading data and weights


@pytest.mark.slow
def test_the_gallery_shows_where_a_convolutional_model_looked_in_each_mistake(tiny_folder, tmp_path):
    import visionpath
    test = tiny_folder / "test"  # test's classes named after each other: the model gets them wrong
    for name, other in (("ant", "x"), ("bee", "ant"), ("cat", "bee"), ("x", "cat")):
        (test / name).rename(test / other)
    shown = {}
    for model in ("cnn", "mlp"):
        run = visionpath.train(tiny_folder, project=tmp_path, model=model, epochs=1, batch_size=8, augment="none",
                               precision="fp32")
        gallery = (run.path / "report.html").read_text().split("Misclassified pictures")[1]
        shown[model] = (gallery.count("<figure>"), gallery.count("data:image/png"), "where the model looked" in gallery)
    mistakes = shown["cnn"][0]
    assert mistakes > 0 and shown["cnn"][1:] == (2 * mistakes, True)  # each mistake with its Grad-CAM map
    assert shown["mlp"][0] > 0 and shown["mlp"][1:] == (shown["mlp"][0], False)  # a dense network has none


def test_report_without_a_test_split_says_the_score_is_optimistic(tmp_path):
    import visionpath
    from conftest import make_folder
    root = make_folder(tmp_path / "flat", per_class={"": 8})
    run = visionpath.train(root, project=tmp_path, model="mlp", epochs=1, batch_size=8, precision="fp32")
    page = (run.path / "report.html").read_text()
    assert "no <code>test/</code> split" in page and "optimistic" in page and "Confusion matrix (validation)" in page


@pytest.mark.slow
def test_compare_runs(tiny_folder, tmp_path):
    import visionpath
    from visionpath.cli import main
    a = visionpath.train(tiny_folder, project=tmp_path, model="mlp", epochs=1, batch_size=8, precision="fp32")
    b = visionpath.train(tiny_folder, project=tmp_path, model="cnn", epochs=1, batch_size=8, precision="fp32")
    assert main(["compare", str(a.path), str(b.path), "--output", str(tmp_path / "cmp")]) == 0
    table = (tmp_path / "cmp.md").read_text().splitlines()
    tests = [json.loads((r.path / "test_metrics.json").read_text())["accuracy"] for r in (a, b)]
    assert table[2].startswith("| photos-mlp-1 | mlp | photos | 1 |") and table[2].endswith(f"| {tests[0]:.2%} |")
    assert table[3].startswith("| photos-cnn-1 | cnn | photos | 1 |") and table[3].endswith(f"| {tests[1]:.2%} |")
    assert (tmp_path / "cmp.csv").read_text().startswith("run,model,data,epochs,training_seconds,parameters")
    assert (tmp_path / "cmp.png").stat().st_size > 10_000
    assert compare_runs([a, b], tmp_path / "again")[0]["test_accuracy"] == tests[0]  # Runs work as paths do


def test_compare_shows_the_validation_accuracy_of_the_epoch_the_run_kept(tiny_folder, tmp_path):
    """Not the highest of any epoch: a fine-tuned epoch kept over a head's higher one (within noise, at a lower
    loss) is the one best.safetensors holds and the test accuracy scored."""
    import visionpath
    from visionpath.run_files import read_history, write_history
    run = visionpath.train(tiny_folder, project=tmp_path, model="mlp", epochs=2, batch_size=8, precision="fp32")
    rows = read_history(run.path)
    rows[0]["val_accuracy"], rows[1]["val_accuracy"] = 0.75, 0.70
    for row in rows:
        row["best_epoch"] = 2
    write_history(run.path, rows)
    (row,) = compare_runs([run], tmp_path / "cmp")
    assert (row["best_val_accuracy"], row["kept_epoch"]) == (0.70, 2)
    assert "| 70.00% (2) |" in (tmp_path / "cmp.md").read_text()


def two_stages(head: list[float], tuned: list[float]) -> list[dict]:
    """A pretrained run's history: validation accuracies of stage 1 (the head) and stage 2 (fine-tuning)."""
    rows = history(train_loss=[1.0] * (len(head) + len(tuned)), val_loss=[1.0] * (len(head) + len(tuned)),
                   train_acc=[a + 0.01 for a in head + tuned], val_acc=head + tuned)
    for i, row in enumerate(rows):
        row["stage"] = 1 if i < len(head) else 2
    return rows


def test_the_diagnosis_of_two_stages_lengthens_only_the_stage_still_rising():
    """The reported case: the head converged by epoch 6 of 10, fine-tuning was still rising after 3 epochs."""
    flowers = two_stages(head=[0.60, 0.68, 0.71, 0.73, 0.735, 0.742, 0.741, 0.740, 0.742, 0.741],
                         tuned=[0.752, 0.761, 0.770])
    config = TrainConfig(model="efficientnet_lite0", pretrained=True, epochs=10, fine_tune_epochs=3,
                         fine_tune_lr=1e-5, augment="standard")
    text = diagnose(flowers, config).text
    assert "--epochs 26" not in text and "--epochs 20" not in text  # never lengthen the stage that had stopped
    assert text.count("--fine-tune-epochs 6") == 1 and "Fine-tuning added 2.8 points and was still rising" in text
    assert "higher" not in text  # measured to lower accuracy: no longer told
    assert "Stage 1 (the head) stopped improving after epoch 6 of 10" in text and "--epochs 6 saves them" in text


def test_a_photo_run_still_rising_is_told_to_keep_its_resolution_and_take_a_longer_budget():
    """The reported case: told `--fine-tune-epochs 6`, the plan shrank the pictures to fit the epochs. A run that
    filled its budget is told a longer one; either way at the resolution it had."""
    rising = two_stages(head=[0.60, 0.68, 0.70, 0.70], tuned=[0.72, 0.75, 0.78])
    photos = dict(model="efficientnet_lite0", pretrained=True, epochs=20, fine_tune_epochs=3, image_size=256,
                  budget=5.0)
    filled = diagnose(rising, TrainConfig(**photos, fill_budget=True)).text
    assert "a longer budget at the same resolution (--budget 10 --image-size 256)" in filled
    assert "--fine-tune-epochs" not in filled
    fixed = diagnose(rising, TrainConfig(**photos, fill_budget=False)).text
    assert "--fine-tune-epochs 6 --image-size 256" in fixed


def test_a_photo_run_whose_budget_held_one_fine_tuning_epoch_is_told_a_second_not_more_blocks():
    """The CIFAR-10 subset forced to bf16 on an AVX2 CPU (benchmarks/results/fits_nowhere_one_epoch.md): the head
    reached 63.8%, the one fine-tuning epoch the budget held 72.2%; the diagnosis said "underfitting. Try: fine-tuning
    more of the backbone (--unfreeze)", with no number to type, on a run whose plan had chosen its block groups and
    whose budget held no more epochs."""
    rows = two_stages(head=[0.48, 0.592, 0.624, 0.628, 0.638, 0.634, 0.618, 0.626, 0.616, 0.606, 0.622],
                      tuned=[0.722])
    for row, train in zip(rows, [0.26, 0.53, 0.61, 0.66, 0.69, 0.71, 0.74, 0.76, 0.77, 0.79, 0.79, 0.594]):
        row["train_accuracy"], row["val_pictures"] = train, 500
    photos = TrainConfig(model="efficientnet_lite0", pretrained=True, epochs=20, fine_tune_epochs=1, image_size=64,
                         budget=5.0, fill_budget=False, unfreeze=4, augment="standard")
    text = diagnose(rows, photos).text
    assert "more fine-tuning epochs (--fine-tune-epochs 2 --image-size 64)" in text
    assert "Fine-tuning added 8.4 points and was still rising" in text and "--unfreeze" not in text
    within = rows[:-1] + [{**rows[-1], "val_accuracy": 0.66}]  # 2.2 points over the head: what 500 pictures tell
    assert "--fine-tune-epochs" not in diagnose(within, photos).text


def test_more_blocks_is_told_as_a_number_and_only_where_some_were_left_frozen():
    """Underfitting after fine-tuning that helped and had stopped rising: one group more, where --unfreeze left some
    frozen; a run whose whole backbone trained was told "fine-tuning more of the backbone (--unfreeze)"."""
    rows = two_stages(head=[0.40, 0.45, 0.46], tuned=[0.50, 0.52, 0.52])
    cifar = dict(model="efficientnet_lite0", pretrained=True, epochs=3, fine_tune_epochs=3, augment="none")
    assert "fine-tuning more of the backbone (--unfreeze 4)" in diagnose(rows, TrainConfig(**cifar, unfreeze=3)).text
    assert "--unfreeze" not in diagnose(rows, TrainConfig(**cifar)).text
    # a folder of photos on its budget: the plan chose the groups, and more cost epochs or resolution there
    assert "--unfreeze" not in diagnose(rows, TrainConfig(**cifar, unfreeze=3, budget=5.0)).text


def test_a_rise_within_what_the_validation_pictures_can_tell_is_not_still_rising():
    """The CIFAR-10 subset (500 validation pictures, benchmarks/results/longer_budget.md): after a last epoch up 2.8
    points twice the budget it was told scored 1.2 points lower on test; after one up 3.6, 0.4 higher."""
    photos = TrainConfig(model="efficientnet_lite0", pretrained=True, epochs=12, fine_tune_epochs=6, image_size=160,
                         budget=5.0, fill_budget=True)
    within = two_stages(head=[0.776, 0.79, 0.794], tuned=[0.786, 0.806, 0.818, 0.842, 0.870])
    for row in within:
        row["val_pictures"], row["train_accuracy"] = 500, 0.95  # training ahead, as it was (not underfitting)
    text = diagnose(within, photos).text
    assert "--budget" not in text and "still rising" not in text and text.startswith("diagnosis: healthy fit")
    surely = within[:-2] + [{**within[-2], "val_accuracy": 0.824}, {**within[-1], "val_accuracy": 0.860}]
    assert "a longer budget at the same resolution (--budget 10 --image-size 160)" in diagnose(surely, photos).text
    older = [{k: v for k, v in row.items() if k != "val_pictures"} for row in within]  # not recorded: 0.3 points
    assert "--budget 10" in diagnose(older, photos).text


def test_fine_tuning_that_made_things_worse_is_named_with_its_flags():
    worse = two_stages(head=[0.80, 0.86, 0.86, 0.855], tuned=[0.83, 0.82, 0.81])
    text = diagnose(worse, TrainConfig(model="efficientnet_lite0", pretrained=True, epochs=4, fine_tune_epochs=3,
                                       fine_tune_lr=1e-3)).text
    assert "fine-tuning did not beat the head's 86.0%" in text.lower()
    assert "a lower rate (--fine-tune-lr 0.0003, now 0.001) or fewer blocks (--unfreeze 3)" in text
    assert "more epochs" not in text and "--fine-tune-epochs" not in text and "higher" not in text
    assert "Try: ." not in text


def test_a_fine_tuned_epoch_the_run_kept_over_the_head_is_not_called_worse(tmp_path):
    """CIFAR-10 at 90 a class: fine-tuning reached 83% at a loss of 0.58 against the head's 84% at 0.77, and the run
    kept fine-tuning's epoch (within what 100 validation pictures tell): the diagnosis said it "did not beat the
    head" and told a lower rate, about the weights it kept; the curves marked the head's epoch."""
    rows = two_stages(head=[0.80, 0.84, 0.84], tuned=[0.79, 0.83])
    for row, loss in zip(rows, [0.9, 0.77, 0.78, 0.70, 0.58]):
        row["val_loss"] = loss
    for row in rows:
        row["best_epoch"] = 5 if row["epoch"] == 5 else 2  # as training recorded its choice (loop.better)
    config = TrainConfig(model="efficientnet_lite0", pretrained=True, epochs=3, fine_tune_epochs=2,
                         fine_tune_lr=1e-4)
    text = diagnose(rows, config).text
    assert "matched the head's 84.0% within what the validation pictures can tell, at a lower validation loss " \
           "(0.580 against 0.770): the run kept fine-tuning's epoch 5" in text
    assert "did not beat" not in text and "--fine-tune-lr" not in text
    assert kept_epoch(rows)["epoch"] == 5 and kept_epoch(rows[:3])["epoch"] == 2
    del rows[-1]["best_epoch"]  # a run of an older version: the highest accuracy, then the lowest loss
    assert kept_epoch(rows)["epoch"] == 2 and "did not beat the head's 84.0%" in diagnose(rows, config).text


def test_an_overfitting_photo_run_names_the_epoch_it_kept():
    """CIFAR-10 at 90 a class: the run kept fine-tuning's epoch 23 (83%, its loss the lowest); the diagnosis said
    "early stopping kept epoch 12", the head's first 84%."""
    rows = history(train_loss=[1.0, 0.8, 0.7, 0.6, 0.4, 0.3], val_loss=[0.9, 0.77, 0.78, 0.70, 0.577, 0.621],
                   train_acc=[0.70, 0.80, 0.81, 0.82, 0.88, 0.93], val_acc=[0.80, 0.84, 0.84, 0.79, 0.83, 0.83])
    for row in rows:
        row["stage"], row["best_epoch"] = 1 if row["epoch"] <= 3 else 2, 5 if row["epoch"] >= 5 else 2
    text = diagnose(rows, TrainConfig(model="efficientnet_lite0", pretrained=True, epochs=3, fine_tune_epochs=3,
                                      early_stopping=3)).text
    assert text.startswith("diagnosis: overfitting from epoch 6") and "early stopping kept epoch 5, from before" in text
    rows[-1]["best_epoch"] = 6  # the CIFAR-10 subset on a 10-minute budget: the lowest loss at 24, the best at 25
    text = diagnose(rows, TrainConfig(model="efficientnet_lite0", pretrained=True, epochs=3, fine_tune_epochs=3,
                                      early_stopping=3)).text
    assert "early stopping kept epoch 6, the best on validation" in text and "from before" not in text


def test_fine_tuning_that_climbs_back_towards_the_head_is_not_still_rising():
    """Cats and dogs at 1e-3: the head reached 99.3%, fine-tuning fell to 86.3% and climbed back to 98.1%."""
    recovered = two_stages(head=[0.970, 0.985, 0.989, 0.993, 0.989], tuned=[0.863, 0.981])
    text = diagnose(recovered, TrainConfig(model="efficientnet_lite0", pretrained=True, epochs=20,
                                           fine_tune_epochs=2, fine_tune_lr=1e-3, early_stopping=3)).text
    assert "more fine-tuning epochs" not in text and "still rising" not in text  # more of what hurt: no
    # a head this close to perfect leaves nothing to fix: a lower rate was measured to cost 1.5 points on test
    assert "did not beat the head's 99.3%: the frozen features already fit these pictures" in text
    assert "--fine-tune-lr" not in text and "--unfreeze" not in text
