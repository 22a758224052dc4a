"""A run's end: the best epoch restored, the test split scored, the curves, report and summary."""
from __future__ import annotations

from pathlib import Path

from ..checkpoint import load_tensors
from ..config import TrainConfig
from ..console import say
from ..data.leaks import seen_in_training
from ..evaluate import evaluate_images
from ..files import atomic_write
from ..report import plot_curves, training_summary
from ..run import write_run_report
from ..tensorboard_log import log_finish
from .model import TrainingModel
from .pictures import TrainingData
from .state import TrainingState, scores_test


def finish(run_dir: Path, config: TrainConfig, data: TrainingData, model: TrainingModel,
           state: TrainingState) -> None:
    """Restore the best epoch's weights, score them on the test split, draw the curves, write the report (folders)
    and the summary."""
    dataset, bf16 = data.dataset, model.precision == "bf16"
    model.net.load_state_dict(load_tensors(run_dir / "best.safetensors", "model."))
    plot_curves(state.history, run_dir / "curves.png", config)
    test = None
    if scores_test(config, dataset):
        test = evaluate_images(model.net, dataset.test, dataset.classes, model.mean, model.std, data.device,
                               split="test", bf16=bf16, seen=seen_in_training(dataset.train, dataset.test))
        test.save(run_dir)
    if dataset.folder is not None:  # report.html, on test (else validation) with its misclassified pictures
        shown = test or evaluate_images(model.net, dataset.validation, dataset.classes, model.mean, model.std,
                                        data.device, split="validation", bf16=bf16,
                                        seen=seen_in_training(dataset.train, dataset.validation))
        write_run_report(run_dir, config, state.history, shown, dataset.test if test else dataset.validation,
                         dataset.train)
    if config.tensorboard:
        log_finish(run_dir, state.best["epoch"], run_dir / "curves.png", test and test.accuracy)
    summary = training_summary(run_dir, config, state.history, state.best, test, dataset.validation_from_train)
    atomic_write(run_dir / "summary.txt", summary + "\n")
    say(summary)
