"""visionpath: image classification on PyTorch, from MNIST to your own photos.

    import visionpath
    run = visionpath.train("mnist", model="mlp", epochs=5)   # a Run: runs/mnist-mlp-1
    run.evaluate()                                            # test loss, accuracy, per-class table, confusion matrix
    run.predict(["digit.png"])                                # top classes with probabilities
    visionpath.check_data("my_photos/")                       # counts, balance, broken files, duplicates, leaks
    run = visionpath.train("my_photos/"); run.report()        # pretrained + fine-tuned; report.html

Every `visionpath` command-line flag is a keyword of these functions.
"""
__version__ = "0.1.0"

from .data import load_dataset, load_image  # noqa: E402
from .data.check import check_data  # noqa: E402
from .data.folder import split_folder  # noqa: E402
from .errors import VisionpathError  # noqa: E402
from .predict import Prediction, predict  # noqa: E402
from .runs import Run, load_model  # noqa: E402
from .train import train  # noqa: E402


def open_run(path) -> Run:
    """The Run in a run folder, e.g. visionpath.open_run("runs/mnist-mlp-1")."""
    return Run(path)


def evaluate(run, split: str = "test", data_dir=None):
    """Evaluate a run folder's best weights on `split` (test by default)."""
    return Run(run).evaluate(split, data_dir)


__all__ = ["train", "evaluate", "predict", "check_data", "split_folder", "open_run", "load_model", "load_dataset", "load_image", "Run",
           "Prediction", "VisionpathError", "__version__"]
