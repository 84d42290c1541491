"""Automatic layout of a workflow graph for the ComfyUI frontend: nothing overlaps, every group title shows, the
graph reads left to right and the whole fits a 1600x1000 window at a readable zoom.

Each group (in the order it was declared) is a band; inside a band the nodes are put in reading order (by their
longest path from the band's sources, sources pulled right next to their first consumer; then by the position of
their neighbours) and split into columns: in a small band every node may take any column not left of its inputs'
(so tall nodes can be balanced against short ones), a larger band wraps in reading order like text into lines.
Each group goes below the previous one or starts a new column of groups to its right (reading down, then right).
A branch-and-bound search over the splits and the group placements, dropping any branch where a wire runs right
to left, keeps the one with the largest fit-to-view zoom. Notes go where they cost the least zoom (right
of everything, or below a group or note), at the width that suits that place, never on a node, a group, or the
space below an output preview that may grow.

Sizes are the frontend's (frontend 1.27): a node's rectangle is pos/size plus the 30 px title bar above pos; a
group's bar is font_size * 1.4 high; fit-to-view zooms to 0.75 of the scale that fits the graph's bounds in the
canvas (the window less the menu bar and side bar).
"""

from __future__ import annotations

from dataclasses import dataclass

TITLE_HEIGHT = 30
GROUP_PAD = 16  # group border to its nodes' rectangles
GROUP_TITLE = 34  # a group's title bar (font 24 * 1.4)
BAND_GAP = 28  # between groups, side by side
COLUMN_GAP = 40  # between columns inside a group (room for the wires)
ROW_GAP = 20  # between a node's bottom and the next node's title bar
NOTE_GAP = 40
KEEP_PER_COUNT = 6  # arrangements of a group kept per column count (the lowest)
MAX_FREE = 6  # up to this many nodes in a group, every node may take any column (else columns open in order)
MAX_ENUMERATED = 9  # a larger group only wraps in reading order
WINDOW = (1600, 1000)
CANVAS = (WINDOW[0] - 64, WINDOW[1] - 92)  # less the side bar and the tab + menu bars (fitted to measured zooms)
FIT_ZOOM = 0.75
GROUP_TITLE_CHAR = 11.0  # width of one character of a group title (24 px font), measured
NOTE_WIDTHS = (360, 420, 480, 540, 600, 660, 720, 760)  # note widths tried; the height follows from the text
NOTE_CHAR, NOTE_LINE, NOTE_HEADING, NOTE_PAD = 4.8, 15, 26, 30  # Markdown note text (measured ~4.5, 14, 24)
OUTPUT_GROWTH = 0.5  # below an output preview, keep this fraction of its width free (a result may be taller)


def group_title_width(title: str) -> float:
    return len(title) * GROUP_TITLE_CHAR + 2 * GROUP_PAD


def note_height(text: str, width: float) -> int:
    """The height a Markdown note needs to show text at width without a scroll bar (an estimate with margin)."""
    per_line = max(1, int((width - NOTE_PAD) / NOTE_CHAR))
    height = NOTE_PAD
    for line in text.split("\n"):
        if line.startswith("#"):
            height += NOTE_HEADING
        elif line.strip():
            height += NOTE_LINE * -(-len(line) // per_line)
        else:
            height += NOTE_LINE // 2
    return height


@dataclass
class Box:
    """A node to place: its key, size (without the title bar), and where the layout put it."""

    key: int
    width: float
    height: float
    x: float = 0.0
    y: float = 0.0
    text: str | None = None  # a note's text: its size is chosen by the layout
    grows_below: bool = False  # an output preview that may grow once a result is shown

    @property
    def rect(self) -> tuple[float, float, float, float]:
        return (self.x, self.y - TITLE_HEIGHT, self.x + self.width, self.y + self.height)


def fit_scale(bounds: tuple[float, float, float, float]) -> float:
    """The zoom the frontend's fit-to-view picks for these bounds in the 1600x1000 window."""
    width, height = bounds[2] - bounds[0], bounds[3] - bounds[1]
    return FIT_ZOOM * min(CANVAS[0] / width, CANVAS[1] / height)


def _union(rects) -> tuple[float, float, float, float]:
    rects = list(rects)
    return (min(r[0] for r in rects), min(r[1] for r in rects), max(r[2] for r in rects), max(r[3] for r in rects))


def _intersect(a, b, margin: float = 0.0) -> bool:
    return a[0] < b[2] + margin and b[0] < a[2] + margin and a[1] < b[3] + margin and b[1] < a[3] + margin


def _band_columns(members: list[int], edges: list[tuple[int, int]]) -> list[list[int]]:
    """Columns of one band: longest path from the band's sources, sources moved next to their first consumer."""
    inside = set(members)
    preds = {m: [a for a, b in edges if b == m and a in inside] for m in members}
    succs = {m: [b for a, b in edges if a == m and b in inside] for m in members}
    rank: dict[int, int] = {}

    def longest(m: int, seen=()) -> int:
        if m not in rank:
            if m in seen:
                raise ValueError("the workflow graph has a cycle")
            rank[m] = max((longest(p, (*seen, m)) + 1 for p in preds[m]), default=0)
        return rank[m]

    for m in members:
        longest(m)
    for m in sorted(members, key=lambda k: -rank[k]):
        if not preds[m] and succs[m]:
            rank[m] = max(rank[m], min(rank[s] for s in succs[m]) - 1)
    columns = [[] for _ in range(max(rank.values(), default=-1) + 1)]
    for m in members:
        columns[rank[m]].append(m)
    return [c for c in columns if c]


def _order_columns(bands: list[list[list[int]]], edges: list[tuple[int, int]]) -> None:
    """Order the nodes of each column by the mean position of their neighbours (two sweeps), creation order first."""
    position = {m: i for band in bands for column in band for i, m in enumerate(column)}
    neighbours = {m: [a for a, b in edges if b == m] + [b for a, b in edges if a == m] for m in position}
    for _ in range(2):
        for band in bands:
            for column in band:
                column.sort(key=lambda m: (sum(position[n] for n in neighbours[m]) / len(neighbours[m])
                                           if neighbours[m] else position[m], m))
                for i, m in enumerate(column):
                    position[m] = i


def _stack(column: list[Box], top: float) -> None:
    """Stack boxes downwards from top (the first title bar's top)."""
    y = top
    for box in column:
        box.y = y + TITLE_HEIGHT
        y = box.y + box.height + ROW_GAP


def _column_height(column: list[Box]) -> float:
    return sum(b.height + TITLE_HEIGHT for b in column) + ROW_GAP * (len(column) - 1)


def _band_arrangements(sequence: list[Box], edges: list[tuple[int, int]]) -> list[list[list[Box]]]:
    """The ways to split one band (its nodes in reading order) into columns so that no wire inside it runs right to
    left (a node's column never before its inputs'), each column top-down in reading order. Small bands try every
    column for every node; larger ones open columns in reading order. For each column count, the KEEP_PER_COUNT
    lowest arrangements."""
    index = {b.key: i for i, b in enumerate(sequence)}
    preds = [[index[a] for a, t in edges if t == b.key and a in index] for b in sequence]
    free = len(sequence) <= MAX_FREE
    found: dict[tuple, tuple[float, list[list[Box]]]] = {}

    def assign(columns: list[int]) -> None:
        i = len(columns)
        if i == len(sequence):
            used = sorted(set(columns))
            groups = [[b for b, c in zip(sequence, columns) if c == k] for k in used]
            key = tuple(used.index(c) for c in columns)
            found.setdefault(key, (max(_column_height(g) for g in groups), groups))
            return
        low = max((columns[p] for p in preds[i]), default=0)
        for column in range(low, len(sequence) if free else max(columns, default=-1) + 2):
            assign(columns + [column])

    if len(sequence) > MAX_ENUMERATED:  # too many ways: fill columns in reading order, like text into lines
        return _wraps(sequence)
    assign([])
    by_count: dict[int, list] = {}
    for height, columns in sorted(found.values(), key=lambda item: item[0]):
        by_count.setdefault(len(columns), []).append(columns)
    return [c for count in sorted(by_count) for c in by_count[count][:KEEP_PER_COUNT]]


def _wraps(sequence: list[Box]) -> list[list[list[Box]]]:
    """The distinct ways to fill columns top-down in reading order at a height budget (one per column count)."""
    found: dict[int, list[list[Box]]] = {}
    runs = {_column_height(sequence[i:j]) for i in range(len(sequence)) for j in range(i + 1, len(sequence) + 1)}
    for budget in sorted(runs):
        columns: list[list[Box]] = []
        for box in sequence:
            if columns and _column_height(columns[-1] + [box]) <= budget:
                columns[-1].append(box)
            else:
                columns.append([box])
        found.setdefault(len(columns), columns)
    return [found[count] for count in sorted(found)]


def _band_size(columns: list[list[Box]], min_width: float) -> tuple[float, float]:
    width = sum(max(b.width for b in c) for c in columns) + COLUMN_GAP * (len(columns) - 1) + 2 * GROUP_PAD
    return max(width, min_width), max(_column_height(c) for c in columns) + GROUP_TITLE + 2 * GROUP_PAD


def _place_band(columns: list[list[Box]], min_width: float, left: float, top: float) -> tuple:
    """Place one band's columns with its group's top-left corner at (left, top); the group is at least as wide as
    its title. Returns the group rectangle."""
    x = left + GROUP_PAD
    for column in columns:
        for box in column:
            box.x = x
        _stack(column, top + GROUP_TITLE + GROUP_PAD)
        x += max(b.width for b in column) + COLUMN_GAP
    width, height = _band_size(columns, min_width)
    return (left, top, left + width, top + height)


def _search(arrangements: list[list], min_widths: list[float], boxes: dict[int, Box], edges: list[tuple[int, int]],
            finish) -> list:
    """Branch and bound over each band's arrangement and whether it goes below the previous group or starts a new
    column of groups to its right. A branch stops as soon as a wire runs right to left or its bounds alone give no
    larger zoom than the best finished layout; finish(rects) places the notes and returns the final zoom.
    Returns the best choices [(arrangement, new column of groups?), ...]."""
    best = {"scale": -1.0, "choices": None}
    placed_keys: set[int] = set()

    def visit(i: int, choices: list, rects: list, column_left: float, column_width: float, bottom: float) -> None:
        if rects and fit_scale(_union(rects)) <= best["scale"] + 1e-6:
            return
        if i == len(arrangements):
            scale = finish(rects)
            if scale > best["scale"] + 1e-6:
                best.update(scale=scale, choices=list(choices))
            return
        for columns in arrangements[i]:
            options = [True] if not rects else [False, True]
            for new_column in options:
                left = column_left + column_width + BAND_GAP if new_column and rects else column_left
                top = 0.0 if new_column else bottom + BAND_GAP
                rect = _place_band(columns, min_widths[i], left, top)
                keys = {b.key for c in columns for b in c}
                known = placed_keys | keys
                if any(a in known and b in known and (a in keys or b in keys) and boxes[a].x > boxes[b].x
                       for a, b in edges):
                    continue  # a wire would run right to left
                placed_keys.update(keys)
                width = rect[2] - rect[0] if new_column else max(column_width, rect[2] - rect[0])
                visit(i + 1, [*choices, (columns, new_column)], [*rects, rect], left, width, rect[3])
                placed_keys.difference_update(keys)

    visit(0, [], [], 0.0, 0.0, 0.0)
    return best["choices"]


def _keep_out(boxes: list[Box]) -> list[tuple]:
    """Rectangles notes must not touch: below output previews that may grow."""
    return [(b.x, b.y + b.height, b.x + b.width, b.y + b.height + b.width * OUTPUT_GROWTH)
            for b in boxes if b.grows_below]


def _place_notes(notes: list[Box], occupied: list[tuple]) -> None:
    """Each note where the fit-to-view zoom stays largest: right of everything, or below any group or note, at
    the width (and so height) that suits that place best."""
    for note in notes:
        candidates = [(max(r[2] for r in occupied) + NOTE_GAP, 0.0)]
        candidates += [(r[0], r[3] + NOTE_GAP) for r in occupied]
        widths = NOTE_WIDTHS if note.text is not None else (note.width,)
        best = None
        for width in widths:
            height = note_height(note.text, width) if note.text is not None else note.height
            for x, top in candidates:
                rect = (x, top, x + width, top + height + TITLE_HEIGHT)
                if any(_intersect(rect, r, NOTE_GAP / 2) for r in occupied):
                    continue
                score = (round(fit_scale(_union([*occupied, rect])), 3), -top, -x, width)
                if best is None or score > best[0]:
                    best = (score, x, top, width, height)
        _, note.x, top, note.width, note.height = best
        note.y = top + TITLE_HEIGHT
        occupied.append(note.rect)


def layout(boxes: dict[int, Box], groups: list[list[int]], edges: list[tuple[int, int]],
           notes: list[int], group_titles: list[str] | None = None) -> list[tuple[float, float, float, float]]:
    """Set every box's x, y (and a note's size); returns the group rectangles (in the order of `groups`, title
    bar included).

    groups: the member keys of each group, in reading order (nodes in no group form a last band of their own);
    edges: (origin, target) links; notes: keys of note boxes (placed after the graph); group_titles: each
    group's title (a group is at least as wide as its title)."""
    grouped = {k for g in groups for k in g}
    loose = [k for k in boxes if k not in grouped and k not in notes]
    member_lists = [list(g) for g in groups] + ([loose] if loose else [])
    titles = list(group_titles or [""] * len(groups)) + ([""] if loose else [])
    min_widths = [group_title_width(t) if t else 0.0 for t in titles]
    key_bands = [_band_columns(members, edges) for members in member_lists]
    _order_columns(key_bands, edges)
    bands = [[boxes[k] for column in band for k in column] for band in key_bands]
    arrangements = [_band_arrangements(band, edges) for band in bands]
    note_boxes = [boxes[k] for k in notes]
    everything = [b for band in bands for b in band]
    edges = [(a, b) for a, b in edges if a in boxes and b in boxes]

    def finish(rects: list) -> float:
        _place_notes(note_boxes, list(rects) + _keep_out(everything))
        return fit_scale(_union([*rects, *(n.rect for n in note_boxes)]))

    choices = _search(arrangements, min_widths, boxes, edges, finish)
    rects, left, width, bottom = [], 0.0, 0.0, 0.0
    for i, (columns, new_column) in enumerate(choices):
        if new_column and rects:
            left, width = left + width + BAND_GAP, 0.0
        rect = _place_band(columns, min_widths[i], left, 0.0 if new_column else bottom + BAND_GAP)
        rects.append(rect)
        width, bottom = max(width, rect[2] - rect[0]), rect[3]
    finish(rects)
    return rects[:len(groups)]
