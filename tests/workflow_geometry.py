"""Geometry of a UI-format workflow as the frontend draws it: node rectangles (pos/size plus the title bar above
pos), group rectangles and group title bars, and the overlaps between them."""

from __future__ import annotations

NODE_TITLE_HEIGHT = 30  # LiteGraph draws the title bar above pos
GROUP_TITLE_SCALE = 1.4  # a group's title bar is font_size * 1.4 high (LiteGraph's LGraphGroup)
GROUP_TITLE_CHAR = 0.46  # width of a group-title character per unit of font size (measured: 11 at 24)


def node_rect(node: dict) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) including the title bar."""
    (x, y), (w, h) = node["pos"], node["size"]
    return (x, y - NODE_TITLE_HEIGHT, x + w, y + h)


def group_rect(group: dict) -> tuple[float, float, float, float]:
    x, y, w, h = group["bounding"]
    return (x, y, x + w, y + h)


def group_title_rect(group: dict) -> tuple[float, float, float, float]:
    x, y, w, _ = group["bounding"]
    return (x, y, x + w, y + group.get("font_size", 24) * GROUP_TITLE_SCALE)


def intersect(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def contains(outer, inner) -> bool:
    return outer[0] <= inner[0] and outer[1] <= inner[1] and inner[2] <= outer[2] and inner[3] <= outer[3]


def _label(node: dict) -> str:
    return f"node {node['id']} ({node.get('title') or node['type']})"


def title_overflows(workflow: dict) -> list[str]:
    """Groups whose title text is wider than the group (it would run into the next group's title)."""
    return [f"group '{g['title']}' is narrower than its title" for g in workflow.get("groups", [])
            if len(g["title"]) * g.get("font_size", 24) * GROUP_TITLE_CHAR > g["bounding"][2]]


def overlaps(workflow: dict) -> list[str]:
    """Every pair that overlaps: node/node, group title/group title, group title/node, and group/group."""
    nodes, groups = workflow["nodes"], workflow.get("groups", [])
    found = []
    for i, a in enumerate(nodes):
        for b in nodes[i + 1:]:
            if intersect(node_rect(a), node_rect(b)):
                found.append(f"{_label(a)} overlaps {_label(b)}")
    for i, g in enumerate(groups):
        for h in groups[i + 1:]:
            if intersect(group_title_rect(g), group_title_rect(h)):
                found.append(f"group '{g['title']}' title overlaps group '{h['title']}' title")
            elif intersect(group_rect(g), group_rect(h)):
                found.append(f"group '{g['title']}' overlaps group '{h['title']}'")
        for node in nodes:
            if intersect(group_title_rect(g), node_rect(node)):
                found.append(f"group '{g['title']}' title is covered by {_label(node)}")
    return found
