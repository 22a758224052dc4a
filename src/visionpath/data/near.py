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

from typing import Callable, Hashable, Iterable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..i18n import tr

Progress = Callable[[str, int, int], None]  # (what is being done, how much of it, out of)
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


def _axis(side: int) -> torch.Tensor:
    return (2 * torch.arange(side, dtype=torch.float32) + 1) / side - 1  # pixel centres in [-1, 1]


def _warp(pictures: torch.Tensor, thetas: torch.Tensor) -> torch.Tensor:
    """Each picture's window (sx, 0, tx; 0, sy, ty) resampled at the pictures' own size: affine_grid's grid, made
    directly (it is the costliest part otherwise, and the windows are never rotated)."""
    axis = _axis(pictures.shape[-1])
    x = thetas[:, 0, 0, None] * axis + thetas[:, 0, 2, None]
    y = thetas[:, 1, 1, None] * axis + thetas[:, 1, 2, None]
    grid = torch.stack(torch.broadcast_tensors(x[:, None, :], y[:, :, None]), dim=-1)
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


def candidates(grey: torch.Tensor, progress: Progress | None = None) -> dict[tuple[int, int], float]:
    """Pairs (i < j) in which one is among the other's NEIGHBOURS closest at 16×16, over the crops of either, with
    that closeness (a correlation). grey: N×1×SIDE×SIDE uint8. progress: told of each picture compared with all."""
    n = len(grey)
    if n < 2:
        return {}
    small = torch.cat([_unit(F.avg_pool2d(_float(grey[i:i + 1024]), SIDE // 16)) for i in range(0, n, 1024)])
    pairs: dict[tuple[int, int], float] = {}
    for start in range(0, n, 64):  # 64 pictures' 49 crops at a time, a crop against all at once: memory stays small
        chunk = _float(grey[start:start + 64])
        warped = _warp(chunk.repeat_interleave(len(CROPS), 0), CROPS.repeat(len(chunk), 1, 1))
        crops = _unit(F.avg_pool2d(warped, SIDE // 16)).view(len(chunk), len(CROPS), -1)
        closeness = crops[:, 0] @ small.T
        for view in range(1, len(CROPS)):
            torch.maximum(closeness, crops[:, view] @ small.T, out=closeness)
        closeness[torch.arange(len(chunk)), torch.arange(start, start + len(chunk))] = -2.0  # not itself
        values, nearest = closeness.topk(min(NEIGHBOURS, n - 1), dim=1)
        for row, (near_values, near_indices) in enumerate(zip(values.tolist(), nearest.tolist())):
            for value, j in zip(near_values, near_indices):
                pair = (min(start + row, j), max(start + row, j))
                pairs[pair] = max(pairs.get(pair, -2.0), value)
        if progress is not None:
            progress(tr("near duplicates: comparing pictures"), min(n, start + 64), n)
    return pairs


def _float(grey: torch.Tensor) -> torch.Tensor:
    """uint8 thumbnails as 0-1 floats: made a chunk at a time (a folder's at once would be 4 times their size)."""
    return grey.float() / 255


def _aligned(pictures: torch.Tensor, sources: torch.Tensor, targets: torch.Tensor, refine: torch.Tensor,
             progress: Callable[[int], None] = lambda pairs: None) -> torch.Tensor:
    """For each pair, the detail correlation of the target with the crop of the source that matches it best
    (_aligned_chunk). A chunk of pairs at a time, its pictures made 0-1 floats for it from the uint8 thumbnails:
    memory stays the thumbnails' and a chunk's, for any folder. pictures: N×1×SIDE×SIDE uint8; sources, targets: P
    indices into them; refine: P bools. progress: told of each chunk's pairs once they are done."""
    found = []
    for start in range(0, len(sources), 256):
        part = slice(start, start + 256)
        found.append(_aligned_chunk(_float(pictures[sources[part]]), _float(pictures[targets[part]]), refine[part]))
        progress(len(found[-1]))
    return torch.cat(found)


def _aligned_chunk(mine: torch.Tensor, theirs: torch.Tensor, refine: torch.Tensor) -> torch.Tensor:
    """_aligned for pairs (mine[k], theirs[k]): the best of CROPS of mine by raw correlation (smooth in the crop)
    with theirs, found on the grid at half the side, refined a coordinate at a time with halving steps where
    `refine` says; then the detail correlation at that crop."""
    raw = _unit(theirs)
    scores = _scores(F.avg_pool2d(mine, 2), _unit(F.avg_pool2d(theirs, 2)), CROPS.expand(len(mine), -1, -1, -1))
    theta = CROPS[scores.argmax(1)]
    best = _scores(mine, raw, theta[:, None])[:, 0]
    step, active = torch.full((len(mine),), 0.03), refine.clone()
    moves = [(row, column, sign) for row, column in ((0, 0), (1, 1), (0, 2), (1, 2)) for sign in (-1.0, 1.0)]
    for _ in range(REFINE_STEPS):  # bounded: on a flat picture every crop scores alike
        ids = active.nonzero().squeeze(1)
        if not len(ids):
            break
        trials = theta[ids].unsqueeze(1).repeat(1, len(moves), 1, 1)
        for k, (row, column, sign) in enumerate(moves):
            trials[:, k, row, column] += sign * step[ids]
        scale = trials[:, :, [0, 1], [0, 1]]  # a crop of at most 16% of a side, inside the picture
        valid = ((scale >= 0.84) & (scale <= 1) & (trials[:, :, :, 2].abs() <= 1 - scale + 1e-6)).all(-1)
        scores = _scores(mine[ids], raw[ids], trials)
        scores[~valid] = -2.0
        found, which = scores.max(1)
        better = found > best[ids] + 1e-5
        best[ids[better]] = found[better]
        theta[ids[better]] = trials[better, which[better]]
        step[ids[~better]] /= 2
        active[ids[~better & (step[ids] < 0.004)]] = False
    return (_detail(_warp(mine, theta)) * _detail(theirs)).sum(1)


def _scores(sources: torch.Tensor, raw: torch.Tensor, thetas: torch.Tensor) -> torch.Tensor:
    """The raw correlation of each source's crops (thetas: P×V×2×3) with its target (raw: P×D, unit): P×V."""
    pairs, views = thetas.shape[:2]
    warped = _warp(sources.repeat_interleave(views, 0), thetas.reshape(-1, 2, 3))
    return (_unit(warped).view(pairs, views, -1) * raw.unsqueeze(1)).sum(-1)


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


def near_duplicates(grey: np.ndarray, colour: np.ndarray, progress: Progress | None = None
                    ) -> list[tuple[int, int, float]]:
    """The pairs of pictures that are the same picture, with what is left of their detail correlation (0: the
    same). grey: N×SIDE×SIDE uint8; colour: N×8×8×3 uint8. progress(what, done, total): told as the pictures are
    compared, then as the pairs proposed are confirmed (the longer part where many pictures look alike)."""
    pictures = torch.from_numpy(grey).unsqueeze(1)  # uint8: a chunk at a time is made 0-1 floats
    proposed = candidates(pictures, progress)
    if not proposed:
        return []
    # confirmed: each picture's nearest (the folder's distances) and every pair close enough to be a copy
    best = {}
    for (i, j), closeness in proposed.items():
        for k in (i, j):
            if closeness > best.get(k, (-2.0, None))[0]:
                best[k] = (closeness, (i, j))
    asked = {pair for _, pair in best.values()} | {pair for pair, c in proposed.items() if c >= PROPOSED}
    pairs = sorted(asked)
    first, second = (torch.tensor([pair[k] for pair in pairs]) for k in (0, 1))
    refine = torch.tensor([proposed[pair] >= PROPOSED for pair in pairs])  # the others only tell the folder's scale
    done = [0]

    def confirmed(count: int) -> None:  # each pair is searched both ways
        done[0] += count
        if progress is not None:
            progress(tr("near duplicates: confirming {pairs:,} pairs", pairs=len(pairs)), done[0], 2 * len(pairs))
    detail = torch.maximum(_aligned(pictures, first, second, refine, confirmed),
                           _aligned(pictures, second, first, refine, confirmed))
    left = {(i, j): max(1 - float(d), colour_distance(colour[i], colour[j])) for (i, j), d in zip(pairs, detail)}
    nearest = {}
    for (i, j), distance in left.items():
        nearest[i] = min(nearest.get(i, 2.0), distance)
        nearest[j] = min(nearest.get(j, 2.0), distance)
    bound = min(SAME_MOST, max(SAME_LEAST, SAME_SHARE * float(np.median(list(nearest.values())))))
    return [(i, j, round(d, 4)) for (i, j), d in sorted(left.items()) if d <= bound and proposed[i, j] >= PROPOSED]


def near_among_files(thumbs: dict[int, tuple[np.ndarray, np.ndarray]], digests: dict[int, str] | list[str],
                     progress: Progress | None = None) -> list[tuple[int, int, float]]:
    """near_duplicates among pictures numbered as their callers number them (`thumbs`: number -> thumbnails), one
    picture of each file's bytes (`digests`: number -> its file's hash): exact copies, at distance 0, would set the
    folder's scale so low that near copies went unfound. The pairs as numbers, with their distance."""
    first: dict[str, int] = {}
    for i in sorted(thumbs):
        first.setdefault(digests[i], i)
    distinct = sorted(first.values())
    if len(distinct) < 2:
        return []
    grey, colour = (np.stack([thumbs[i][k] for i in distinct]) for k in (0, 1))
    return [(distinct[a], distinct[b], distance) for a, b, distance in near_duplicates(grey, colour, progress)]


def joined(groups: Iterable[Iterable[Hashable]]) -> list[list[Hashable]]:
    """Groups that share a member, joined into one (near pairs chain: (a, b) and (b, c) are one picture), each
    with its members in the order they first came, in the order of their first members."""
    parent: dict = {}

    def root(item: Hashable) -> Hashable:
        while parent[item] != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item
    for group in groups:
        members = list(group)
        for member in members:
            parent.setdefault(member, member)
        for member in members[1:]:
            parent[root(member)] = root(members[0])
    found: dict = {}
    for item in parent:  # in the order items first came
        found.setdefault(root(item), []).append(item)
    return list(found.values())
