"""Scores of a model on one split, from its logits."""
import torch

from visionpath.data.leaks import Seen
from visionpath.evaluate import evaluate_logits


def test_accuracy_is_counted_exactly_and_the_confusion_has_true_rows():
    labels = torch.tensor([0] * 135 + [1] * 135)
    predictions = labels.clone()
    predictions[0], predictions[1], predictions[-1] = 1, 1, 0  # 3 mistakes: two cats called dogs, a dog a cat
    logits = torch.nn.functional.one_hot(predictions, 2).float()
    scored = evaluate_logits(logits, labels, ["cat", "dog"], "test")
    assert scored.accuracy == 267 / 270  # a float32 mean gives 0.98888886 (a comparison with 267/270 fails)
    assert scored.confusion.tolist() == [[133, 2], [1, 134]]  # true on rows, predicted on columns


def test_pictures_also_in_train_are_scored_apart():
    labels = torch.tensor([0, 0, 1, 1, 0, 1])
    predictions = torch.tensor([0, 0, 1, 1, 1, 0])  # right on the four seen in training, wrong on the two others
    seen = Seen(torch.tensor([True, True, True, True, False, False]), 0)
    scored = evaluate_logits(torch.nn.functional.one_hot(predictions, 2).float(), labels, ["cat", "dog"], "test", seen)
    assert scored.accuracy == 4 / 6 and scored.seen == 4
    assert scored.unseen.accuracy == 0 and int(scored.unseen.confusion.sum()) == 2
    assert "4 test pictures are also in train (the same file), so the score above may be inflated: on the 2 not seen " \
           "in training, accuracy 0.00%" in scored.table()
    clean = evaluate_logits(torch.nn.functional.one_hot(predictions, 2).float(), labels, ["cat", "dog"], "test",
                            Seen(torch.zeros(6, dtype=torch.bool), 0))
    assert clean.seen == 0 and clean.unseen is None and "also in train" not in clean.table()
    everything = evaluate_logits(torch.nn.functional.one_hot(predictions, 2).float(), labels, ["cat", "dog"], "test",
                                 Seen(torch.ones(6, dtype=torch.bool), 0))
    assert everything.unseen is None and "this score says nothing about new pictures" in everything.table()
    near = evaluate_logits(torch.nn.functional.one_hot(predictions, 2).float(), labels, ["cat", "dog"], "test",
                           Seen(seen.mask, 1))
    assert near.seen == 4 and near.seen_near == 1 and near.unseen.accuracy == 0
    assert "4 test pictures are also in train (3 the same file, 1 a near copy that `visionpath data check` found)" \
           in near.table()
    unchecked = evaluate_logits(torch.nn.functional.one_hot(predictions, 2).float(), labels, ["cat", "dog"], "test",
                                Seen(seen.mask, 0, near_looked_for=False))
    assert "4 test pictures are also in train (the same file; near copies not looked for yet: `visionpath data " \
           "check` finds them, and scores leave them out once it has)" in unchecked.table()
