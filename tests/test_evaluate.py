"""Scores of a model on one split, from its logits."""
import torch

from visionpath.evaluate import evaluate_logits


def test_accuracy_is_counted_exactly_and_the_confusion_has_true_rows():
    labels = torch.tensor([0] * 135 + [1] * 135)
    predictions = labels.clone()
    predictions[0], predictions[1], predictions[-1] = 1, 1, 0  # 3 mistakes: two cats called dogs, a dog a cat
    logits = torch.nn.functional.one_hot(predictions, 2).float()
    scored = evaluate_logits(logits, labels, ["cat", "dog"], "test")
    assert scored.accuracy == 267 / 270  # a float32 mean gives 0.98888886 (a comparison with 267/270 fails)
    assert scored.confusion.tolist() == [[133, 2], [1, 134]]  # true on rows, predicted on columns
