"""The shipped workflows as the frontend draws them: nothing overlaps, group titles show, the graph reads left to
right and fit-to-view in a 1600x1000 window opens at a zoom where the frontend draws node details. The layout is
automatic (tools/workflow_layout.py), so a synthetic graph of any shape must come out clean too."""

from __future__ import annotations

import json
import sys

import pytest

from conftest import REPO_ROOT
from workflow_geometry import contains, group_rect, node_rect, overlaps, title_overflows

sys.path.insert(0, str(REPO_ROOT / "tools"))
from workflow_layout import CANVAS, FIT_ZOOM, Box, layout  # noqa: E402

WORKFLOWS = REPO_ROOT / "workflows"
NAMES = sorted(p.stem for p in WORKFLOWS.glob("*.json"))
# The frontend (1.27) draws nodes as blank boxes below zoom 8 px / 14 px (MinFontSizeForLOD / NODE_TEXT_SIZE)
# on a display with device pixel ratio 1.
DETAIL_ZOOM = 8 / 14


def load(name: str) -> dict:
    return json.loads((WORKFLOWS / f"{name}.json").read_text())


def fit_to_view_zoom(workflow: dict) -> float:
    rects = [node_rect(n) for n in workflow["nodes"]] + [group_rect(g) for g in workflow["groups"]]
    width = max(r[2] for r in rects) - min(r[0] for r in rects)
    height = max(r[3] for r in rects) - min(r[1] for r in rects)
    return FIT_ZOOM * min(CANVAS[0] / width, CANVAS[1] / height)


def test_overlap_check_finds_overlaps():
    workflow = {"nodes": [{"id": 1, "type": "A", "pos": [0, 0], "size": [100, 100]},
                          {"id": 2, "type": "B", "pos": [50, 120], "size": [100, 100]}],  # its title bar: y 90..120
                "groups": [{"title": "one", "bounding": [-10, -80, 300, 400], "font_size": 24},
                           {"title": "two", "bounding": [100, -70, 300, 400], "font_size": 24}]}
    found = overlaps(workflow)
    assert "node 1 (A) overlaps node 2 (B)" in found
    assert "group 'one' title overlaps group 'two' title" in found
    workflow["nodes"][1]["pos"] = [50, 131]
    workflow["groups"][1]["bounding"] = [400, -80, 30, 400]
    assert overlaps(workflow) == [] and title_overflows(workflow) == ["group 'two' is narrower than its title"]


@pytest.mark.parametrize("name", NAMES)
def test_nothing_overlaps_and_group_titles_show(name):
    workflow = load(name)
    assert overlaps(workflow) == []
    assert title_overflows(workflow) == []


@pytest.mark.parametrize("name", NAMES)
def test_every_node_is_in_one_group_and_notes_in_none(name):
    workflow = load(name)
    for node in workflow["nodes"]:
        inside = [g["title"] for g in workflow["groups"] if contains(group_rect(g), node_rect(node))]
        assert len(inside) == (0 if node["type"] == "MarkdownNote" else 1), (node["id"], node["type"], inside)


@pytest.mark.parametrize("name", NAMES)
def test_graph_reads_left_to_right(name):
    workflow = load(name)
    x = {n["id"]: n["pos"][0] for n in workflow["nodes"]}
    for link_id, origin, _, target, _, _ in workflow["links"]:
        assert x[origin] <= x[target], f"link {link_id} runs right to left"


@pytest.mark.parametrize("name", NAMES)
def test_fit_to_view_shows_node_details(name):
    workflow = load(name)
    assert fit_to_view_zoom(workflow) >= DETAIL_ZOOM
    assert workflow["extra"]["ds"]["scale"] == pytest.approx(fit_to_view_zoom(workflow), abs=1e-3)  # opens fitted


def test_layout_of_an_arbitrary_graph_is_clean():
    """A chain of groups of mixed node sizes with side inputs, one ungrouped node and a long note."""
    sizes = [(340, 480), (320, 90), (320, 300), (300, 200), (320, 600), (320, 120), (360, 250), (320, 400),
             (320, 160), (320, 330), (320, 90), (400, 220)]
    boxes = {k: Box(k, w, h) for k, (w, h) in enumerate(sizes)}
    boxes[99] = Box(99, 0, 0, text="## A note\n" + "words " * 150)
    edges = [(0, 2), (1, 2), (2, 4), (3, 4), (4, 6), (5, 6), (6, 8), (7, 8), (8, 9), (9, 10), (10, 11)]
    groups = [[0, 1], [2, 3], [4, 5, 6, 7], [8, 9, 10]]
    rects = layout(boxes, groups, edges, [99], ["1. In", "2. Middle", "3. A long group title here", "4. Out"])
    nodes = [{"id": b.key, "type": "T", "pos": [b.x, b.y], "size": [b.width, b.height]} for b in boxes.values()]
    ui_groups = [{"title": t, "font_size": 24, "bounding": [r[0], r[1], r[2] - r[0], r[3] - r[1]]}
                 for t, r in zip(["1. In", "2. Middle", "3. A long group title here", "4. Out"], rects)]
    workflow = {"nodes": nodes, "groups": ui_groups}
    assert overlaps(workflow) == [] and title_overflows(workflow) == []
    x = {b.key: b.x for b in boxes.values()}
    assert all(x[a] <= x[b] for a, b in edges)
    assert boxes[99].height > 0 and 11 in [k for k in boxes if not any(k in g for g in groups)]


def test_a_group_is_split_into_balanced_columns():
    """Wide nodes of heights 600, 500, 100, 100 (no links): two columns fit the window best. Filling columns in
    reading order gives [600] [500, 100, 100] (830 px of nodes and title bars); balanced is [600, 100] [500, 100]:
    630 + 20 + 130 = 780 px, and the group adds its 34 px title bar and 2 x 16 px padding."""
    boxes = {k: Box(k, 700, h) for k, h in enumerate([600, 500, 100, 100])}
    (rect,) = layout(boxes, [[0, 1, 2, 3]], [], [], ["Wide"])
    assert (rect[2] - rect[0], rect[3] - rect[1]) == (16 + 700 + 40 + 700 + 16, 34 + 16 + 780 + 16)
    nodes = [{"id": b.key, "type": "T", "pos": [b.x, b.y], "size": [b.width, b.height]} for b in boxes.values()]
    assert overlaps({"nodes": nodes, "groups": []}) == []
