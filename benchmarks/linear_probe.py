"""Peer of the photo defaults: frozen EfficientNet-Lite0 features + scikit-learn's logistic regression.

    python benchmarks/linear_probe.py FOLDER [--image-size 224]

What a practitioner writes first for a folder of photos, and what a default that trains for minutes must clearly
beat: the backbone's ImageNet features of every picture at its own resolution (224 px, ImageNet's normalisation as
visionpath applies it), standardised, then a logistic regression whose regularisation C is chosen by 5-fold
cross-validation on train, scored on validation (the same split visionpath uses: the folder's validation/, or the
same stratified 10% of train) and on test. Needs scikit-learn (`pip install scikit-learn`).
Prints one JSON line: accuracies, C, and seconds from process start to the end.
"""
import time

START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.linear_model import LogisticRegressionCV  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from visionpath.data import load_dataset  # noqa: E402
from visionpath.models import create_model, features_in_batches, load_pretrained, model_entry, scaling_for  # noqa

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("folder")
parser.add_argument("--image-size", type=int, default=224)
args = parser.parse_args()

data = load_dataset(args.folder, image_size=args.image_size)
net = create_model("efficientnet_lite0", len(data.classes), data.input_shape, resolution=args.image_size)
load_pretrained(net, None)
net.eval()
mean, std = scaling_for(model_entry("efficientnet_lite0"), data.mean, data.std)
device = torch.device("cpu")


def features(images: torch.Tensor) -> np.ndarray:
    return features_in_batches(net, images, mean, std, device).float().numpy()


train, validation = features(data.train.images), features(data.validation.images)
scaler = StandardScaler().fit(train)
train, validation = scaler.transform(train), scaler.transform(validation)
y_train, y_validation = data.train.labels.numpy(), data.validation.labels.numpy()
# C chosen by 5-fold cross-validation on train, as scikit-learn's LogisticRegressionCV does: the validation split
# stays unseen until it is scored, as a careful practitioner would keep it
fitted = LogisticRegressionCV(Cs=[0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0], cv=5, max_iter=2000).fit(train, y_train)
test = None
if data.test is not None:
    test = fitted.score(scaler.transform(features(data.test.images)), data.test.labels.numpy())
print(json.dumps({"peer": "linear probe: frozen Lite0 features + logistic regression", "image_size": args.image_size,
                  "C": float(fitted.C_[0]), "validation_accuracy": fitted.score(validation, y_validation),
                  "test_accuracy": test,
                  "wall_seconds": round(time.perf_counter() - START, 2)}))
