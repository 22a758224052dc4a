"""visionpath: image classification on PyTorch, from MNIST to your own photos.

    import visionpath
    run = visionpath.train("mnist", model="mlp", epochs=5)   # a Run: runs/mnist-mlp-1
    run.evaluate()                                            # test loss, accuracy, per-class table, confusion matrix
    run.predict(["digit.png"])                                # top classes with probabilities
    visionpath.check_data("my_photos/")                       # counts, balance, broken files, duplicates, leaks
    visionpath.dedupe_folder("my_photos/", "clean_photos/")   # a copy whose test shares nothing with train
    run = visionpath.train("my_photos/"); run.report()        # pretrained + fine-tuned; report.html
    visionpath.export(run.path)                               # model.onnx: uint8 pictures in, probabilities out
    visionpath.serve(run.path)                                # a web page and POST /predict on 127.0.0.1:8000
    visionpath.tune("my_photos/", trials=30, timeout="1h")    # Optuna searches the settings; best scored on test
    visionpath.describe_machine()                             # the devices, and the precision auto trains in

Every `visionpath` command-line flag is a keyword of these functions but --lang, which is `visionpath.set_language`
(what visionpath explains, in "en" or "ja"; by default from $LANG); the training settings are the fields of
`visionpath.TrainConfig`. Importing visionpath changes nothing in the process (no matplotlib backend, no allocator
setting); `visionpath.devices.keep_freed_memory()` is the CPU memory tuning the command applies, for scripts.
"""
from .config import TrainConfig
from .data import load_dataset, load_image, sample_folder
from .data.check import check_data
from .data.dedupe import dedupe_folder
from .data.split import split_folder
from .devices import describe_machine
from .errors import VisionpathError
from .evaluate import Evaluation
from .export import export
from .i18n import set_language
from .predict import Prediction, predict
from .run_files import load_model
from .run import Run
from .serve import serve
from .train import train
from .tune import tune
from .version import __version__


def open_run(path) -> Run:
    """The Run in a run folder, e.g. visionpath.open_run("runs/mnist-mlp-1")."""
    return Run(path)


def evaluate(run, split: str = "test", data_dir=None, device: str = "auto") -> Evaluation:
    """Evaluate a run folder's best weights on `split` (test by default), on `device` (auto: a GPU if any)."""
    return Run(run).evaluate(split, data_dir, device)


__all__ = ["train", "tune", "evaluate", "predict", "export", "serve", "check_data", "dedupe_folder", "split_folder",
           "open_run", "load_model",
           "describe_machine", "set_language",
           "load_dataset", "load_image", "sample_folder", "Run", "TrainConfig", "Evaluation", "Prediction", "VisionpathError",
           "__version__"]
