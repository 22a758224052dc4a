"""The peer for visionpath's training loop: the textbook PyTorch loop over the *same* model and data.

    .venv/bin/python benchmarks/plain_dataloader.py --model cnn --epochs 2

What a PyTorch user writes from the tutorials: a Dataset that turns one picture at a time into a tensor with
torchvision's transforms v2 (random crop with padding 4 and horizontal flip, as visionpath's `standard` preset),
a DataLoader with 2 workers, and zero_grad / forward / loss / backward / step with `loss.item()` every step.
Same network (visionpath's registry), same images (the 45,000 training images visionpath trains on), same
batch size and optimiser. fp32, as the tutorials do. Prints one JSON line like the peers in ../shared/peers.
"""
from __future__ import annotations

import argparse
import json
import time

import torch
import torch.nn.functional as F
from torchvision.transforms import v2

from runner import SHARED
from visionpath.data import load_dataset
from visionpath.models import create_model


class Pictures(torch.utils.data.Dataset):
    def __init__(self, images: torch.Tensor, labels: torch.Tensor, transform):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return self.transform(self.images[i]), self.labels[i]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="cnn")
    parser.add_argument("--data", default="cifar10")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=256)  # cnn's recipe
    parser.add_argument("--lr", type=float, default=6e-3)  # cnn's recipe
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    torch.manual_seed(0)
    data = load_dataset(args.data, SHARED / "data")
    side = data.input_shape[-1]
    transform = v2.Compose([v2.RandomCrop(side, padding=side // 8, padding_mode="reflect"),
                            v2.RandomHorizontalFlip(), v2.ToDtype(torch.float32, scale=True)])
    loader = torch.utils.data.DataLoader(Pictures(data.train.images, data.train.labels, transform),
                                         batch_size=args.batch_size, shuffle=True, num_workers=args.workers,
                                         persistent_workers=args.workers > 0)
    model = create_model(args.model, len(data.classes), data.input_shape)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    times = []
    for epoch in range(args.epochs):
        model.train()
        t0 = time.perf_counter()
        running = 0.0
        for x, y in loader:
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            running += loss.item()
        times.append(time.perf_counter() - t0)
        print(f"epoch {epoch + 1}: {times[-1]:.1f}s loss {running / len(loader):.4f}", flush=True)
    print(json.dumps({"recipe": f"plain-dataloader-{args.model}", "epochs": args.epochs, "images": len(data.train),
                      "train_seconds": round(sum(times), 2), "seconds_per_epoch": [round(t, 2) for t in times]}))


if __name__ == "__main__":
    main()
