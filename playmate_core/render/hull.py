"""Exact volume of the 3-D convex hull of a small point set (LivePortrait's 21 keypoints).

Brute force over every triple of points, in float64: a triple spans a hull facet when no point lies
strictly on the far side of its plane. Points on a facet plane (coplanar facets) are gathered into one
facet, whose area is that of their 2-D hull, so degenerate sets are counted once. The volume is the
sum of the pyramids from an interior point to every facet. O(P^4) in time: meant for P of a few dozen.
"""

from __future__ import annotations

import itertools
import math

import torch

PLANE_TOLERANCE = 1e-12  # relative to the point cloud's extent


def _polygon_area(points: torch.Tensor, normal: torch.Tensor) -> float:
    """Area of the convex hull of coplanar points [K, 3] with unit normal (monotone chain in the plane)."""
    u = points[1] - points[0]
    u = u / u.norm()
    v = torch.linalg.cross(normal, u)
    flat = sorted({(float(p @ u), float(p @ v)) for p in points})
    if len(flat) < 3:
        return 0.0

    def turn(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    def chain(pts):
        out = []
        for p in pts:
            while len(out) >= 2 and turn(out[-2], out[-1], p) <= 0:
                out.pop()
            out.append(p)
        return out[:-1]

    ring = chain(flat) + chain(flat[::-1])
    return 0.5 * abs(sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(ring, ring[1:] + ring[:1])))


def convex_hull_volume(points: torch.Tensor) -> float:
    """Volume of the convex hull of points [P, 3] (any float dtype; computed in float64). 0 for flat sets."""
    p = points.detach().double().cpu().reshape(-1, 3)
    extent = float((p.max(0).values - p.min(0).values).norm())
    if p.shape[0] < 4 or extent == 0.0:
        return 0.0
    eps = PLANE_TOLERANCE * extent
    triples = torch.tensor(list(itertools.combinations(range(p.shape[0]), 3)))
    a, b, c = p[triples[:, 0]], p[triples[:, 1]], p[triples[:, 2]]
    normals = torch.linalg.cross(b - a, c - a)
    length = normals.norm(dim=1)
    keep = length > eps * extent
    normals, a, triples = normals[keep] / length[keep, None], a[keep], triples[keep]
    side = (p[None] - a[:, None]) @ normals[:, :, None]  # [F, P, 1] signed distances
    side = side[..., 0]
    above, below = (side > eps).any(1), (side < -eps).any(1)
    supporting = above ^ below  # all points on one side, and the set is not flat there
    if not bool(supporting.any()):
        return 0.0
    interior = p.mean(0)
    volume, seen = 0.0, set()
    for f in torch.nonzero(supporting)[:, 0].tolist():
        on_plane = tuple(torch.nonzero(side[f].abs() <= eps)[:, 0].tolist())
        if on_plane in seen:
            continue
        seen.add(on_plane)
        normal = normals[f]
        height = abs(float((a[f] - interior) @ normal))
        volume += _polygon_area(p[list(on_plane)], normal) * height / 3.0
    return volume


def hull_motion_multiplier(x_source: torch.Tensor, x_first: torch.Tensor) -> float:
    """LivePortrait's motion multiplier sqrt(vol hull(x_s)) / sqrt(vol hull(x_d,0)) for keypoints [21, 3]."""
    driving = convex_hull_volume(x_first)
    if driving <= 0.0:
        return 1.0
    return math.sqrt(convex_hull_volume(x_source)) / math.sqrt(driving)
