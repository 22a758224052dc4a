"""Near duplicates that are real: the same picture resized, re-encoded, slightly cropped or recoloured, told apart
from pictures that merely look alike (scans of one kind, products on white, map tiles).

A cheap measure proposes, a stronger one confirms:
- each picture is a 64×64 grey thumbnail of the whole picture (and an 8×8 colour one);
- candidates: for each picture, the few others whose 16×16 thumbnail is closest to any slight crop of its own
  (49 crops, up to 12% off each side);
- confirmation: the crop of either picture that matches the other best, found on a grid and refined, then the
  correlation of the two in detail (a band-pass: layout removed) at that crop, and their colours where both have
  any. A pair is the same picture when what is left of that correlation is under a share of the folder's own
  typical distance between a picture and its nearest other (a folder of look-alikes has close neighbours, so
  close must mean much closer than those) and under an absolute bound.
benchmarks/near_duplicates.py measures precision and recall on pairs made for it (README: data check).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

SIDE = 64               # the grey thumbnail compared
NEIGHBOURS = 8          # candidates a picture proposes
REFINE_STEPS = 12       # at most this many refinements of the best crop
PROPOSED = 0.7          # closeness at 16×16 from which a candidate is confirmed (copies measured 0.9 and more)
DETAIL_SIGMA = 3.0      # the band-pass: a thumbnail less its blur at this many pixels (layout removed)
# A pair is the same picture when its distance (1 - its detail correlation, or its colours' distance if larger) is
# under both bounds. Measured on made pairs (benchmarks/near_duplicates.py): edited copies of photos at most 0.17
# apart, different photos at least 0.34; copies of look-alike scans at most 0.021, different scans at least 0.044,
# their median nearest neighbour 0.05 away. Products of one shape on white: copies and different products overlap
# (from 0.0014): a few are called the same
SAME_SHARE = 0.4        # of the folder's median distance to a nearest neighbour
SAME_MOST = 0.2         # whatever the folder
SAME_LEAST = 0.003      # whatever the folder: a re-encoded or resized copy (a folder of copies has no other scale)
COLOURED = 12.0         # chroma (0-255 scale) from which a picture's colour counts: under it, nearly grey


def thumbnails(image: Image.Image) -> tuple[np.ndarray, np.ndarray]:
    """A Pillow picture -> (its SIDE×SIDE grey thumbnail, its 8×8 RGB one), both uint8, the whole picture
    stretched: a crop of it stays a crop of its thumbnail."""
    grey = np.asarray(image.convert("L").resize((SIDE, SIDE), Image.Resampling.BILINEAR), dtype=np.uint8)
    colour = np.asarray(image.convert("RGB").resize((8, 8), Image.Resampling.BOX), dtype=np.uint8)
    return grey, colour


def _crops() -> torch.Tensor:
    """Affine windows (sx, 0, tx; 0, sy, ty): the whole picture and crops of up to 12% off any sides."""
    axis = [(1.0, 0.0)] + [(s, t * (1 - s)) for s in (0.94, 0.88) for t in (-1.0, 0.0, 1.0)]
    return torch.tensor([[[sx, 0.0, tx], [0.0, sy, ty]] for sx, tx in axis for sy, ty in axis])


CROPS = _crops()


def _warp(pictures: torch.Tensor, thetas: torch.Tensor) -> torch.Tensor:
    grid = F.affine_grid(thetas, (len(thetas), 1, SIDE, SIDE), align_corners=False)
    return F.grid_sample(pictures, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _unit(x: torch.Tensor) -> torch.Tensor:
    x = x.flatten(1)
    x = x - x.mean(1, keepdim=True)
    return x / x.norm(dim=1, keepdim=True).clamp_min(1e-6)


def _detail(x: torch.Tensor) -> torch.Tensor:
    """Each picture less its Gaussian blur, zero mean and unit length: what is left of it once layout is gone."""
    radius = int(3 * DETAIL_SIGMA)
    kernel = torch.exp(-torch.arange(-radius, radius + 1.0) ** 2 / (2 * DETAIL_SIGMA ** 2))
    kernel = kernel / kernel.sum()
    blurred = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="replicate"), kernel.view(1, 1, 1, -1))
    blurred = F.conv2d(F.pad(blurred, (0, 0, radius, radius), mode="replicate"), kernel.view(1, 1, -1, 1))
    return _unit(x - blurred)


def candidates(grey: torch.Tensor) -> dict[tuple[int, int], float]:
    """Pairs (i < j) in which one is among the other's NEIGHBOURS closest at 16×16, over the crops of either, with
    that closeness (a correlation)."""
    n = len(grey)
    if n < 2:
        return {}
    small = _unit(F.avg_pool2d(grey, SIDE // 16))
    pairs: dict[tuple[int, int], float] = {}
    for start in range(0, n, 64):  # 64 pictures' 49 crops at a time against all: memory stays small for any folder
        chunk = grey[start:start + 64]
        warped = _warp(chunk.repeat_interleave(len(CROPS), 0), CROPS.repeat(len(chunk), 1, 1))
        crops = _unit(F.avg_pool2d(warped, SIDE // 16)).view(len(chunk), len(CROPS), -1)
        closeness = torch.einsum("mvd,nd->mvn", crops, small).amax(1)
        closeness[torch.arange(len(chunk)), torch.arange(start, start + len(chunk))] = -2.0  # not itself
        values, nearest = closeness.topk(min(NEIGHBOURS, n - 1), dim=1)
        for row, (near_values, near_indices) in enumerate(zip(values.tolist(), nearest.tolist())):
            for value, j in zip(near_values, near_indices):
                pair = (min(start + row, j), max(start + row, j))
                pairs[pair] = max(pairs.get(pair, -2.0), value)
    return pairs


def _aligned(source: torch.Tensor, target: torch.Tensor) -> float:
    """The detail correlation of `target` with the crop of `source` that matches it best: the best of CROPS by
    raw correlation (smooth in the crop), refined a coordinate at a time with halving steps."""
    raw, detail = _unit(target), _detail(target)
    scores = _unit(_warp(source.expand(len(CROPS), -1, -1, -1), CROPS)) @ raw.T
    theta, best = CROPS[int(scores.argmax())].clone(), float(scores.max())
    step = 0.03
    for _ in range(REFINE_STEPS):  # bounded: on a flat picture every crop scores alike
        trials = []
        for row, column in ((0, 0), (1, 1), (0, 2), (1, 2)):
            for change in (-step, step):
                trial = theta.clone()
                trial[row, column] += change
                if 0.84 <= trial[row, row] <= 1 and abs(trial[row, 2]) <= 1 - trial[row, row] + 1e-6:
                    trials.append(trial)  # a crop of at most 16% of a side, inside the picture
        scores = (_unit(_warp(source.expand(len(trials), -1, -1, -1), torch.stack(trials))) @ raw.T).squeeze(1)
        if float(scores.max()) > best + 1e-5:
            best, theta = float(scores.max()), trials[int(scores.argmax())]
        else:
            step /= 2
            if step < 0.004:
                break
    return float(_detail(_warp(source, theta[None])) @ detail.T)


def colour_distance(a: np.ndarray, b: np.ndarray) -> float:
    """How far apart two pictures' colours are, from their 8×8 RGB thumbnails: 1 - the cosine of their mean
    chroma (red-green, yellow-blue, each cell weighted by how coloured it is), 0 where either is nearly grey (a
    greyed copy is still a copy); brightness, contrast and saturation leave it near 0, a change of hue does not."""
    def chroma(c: np.ndarray) -> np.ndarray:
        c = c.reshape(-1, 3).astype(np.float32)
        cells = np.stack([c[:, 0] - c[:, 1], (c[:, 0] + c[:, 1]) / 2 - c[:, 2]], axis=1)
        strength = np.linalg.norm(cells, axis=1)
        return (cells * strength[:, None]).sum(0) / max(strength.sum(), 1e-6)
    x, y = chroma(a), chroma(b)
    if min(np.linalg.norm(x), np.linalg.norm(y)) < COLOURED:
        return 0.0
    return max(0.0, 1 - float(x @ y / (np.linalg.norm(x) * np.linalg.norm(y))))


def near_duplicates(grey: np.ndarray, colour: np.ndarray) -> list[tuple[int, int, float]]:
    """The pairs of pictures that are the same picture, with what is left of their detail correlation (0: the
    same). grey: N×SIDE×SIDE uint8; colour: N×8×8×3 uint8."""
    pictures = torch.from_numpy(grey).float().unsqueeze(1) / 255
    proposed = candidates(pictures)
    if not proposed:
        return []
    # confirmed: each picture's nearest (the folder's distances) and every pair close enough to be a copy
    first = {}
    for (i, j), closeness in proposed.items():
        for k in (i, j):
            if closeness > first.get(k, (-2.0, None))[0]:
                first[k] = (closeness, (i, j))
    asked = {pair for _, pair in first.values()} | {pair for pair, c in proposed.items() if c >= PROPOSED}
    left = {}
    for i, j in sorted(asked):
        detail = max(_aligned(pictures[i:i + 1], pictures[j:j + 1]), _aligned(pictures[j:j + 1], pictures[i:i + 1]))
        left[i, j] = max(1 - detail, colour_distance(colour[i], colour[j]))
    nearest = {}
    for (i, j), distance in left.items():
        nearest[i] = min(nearest.get(i, 2.0), distance)
        nearest[j] = min(nearest.get(j, 2.0), distance)
    bound = min(SAME_MOST, max(SAME_LEAST, SAME_SHARE * float(np.median(list(nearest.values())))))
    return [(i, j, round(d, 4)) for (i, j), d in sorted(left.items()) if d <= bound]
