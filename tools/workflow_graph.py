"""A small graph builder that writes a workflow twice: UI format (what the frontend saves and loads by
drag-and-drop) and API format (what /prompt runs). Used by tools/make_workflows.py.

UI conventions (as in ComfyUI's own templates, frontend 1.27): node ``inputs`` list the sockets in
INPUT_TYPES order, then widgets converted to inputs (``"widget": {"name": ...}``) that carry a link;
optional sockets have ``"shape": 7``, list outputs ``"shape": 6``; ``links`` rows are
``[id, origin_id, origin_slot, target_id, target_slot, type]``; ``widgets_values`` follow
tests/workflow_convert.widget_layout (value controls and upload buttons take a slot of their own).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from workflow_convert import WIDGET_TYPES, widget_layout
from workflow_layout import CANVAS, TITLE_HEIGHT, Box, fit_scale, layout

NODE_WIDTH = 320
TITLE_CHAR_WIDTH, TITLE_MARGIN = 7.5, 40  # the frontend widens a node to fit its title (14 px font)
NOTE_COLOR, NOTE_BGCOLOR = "#432", "#653"
# A node's body height as the frontend computes it for a new node (LGraphNode.computeSize, frontend 1.27.10,
# measured): 20 px per socket row, 24 px per widget row (value controls and upload buttons are rows too), a 6 px
# margin, 8 px more with widgets. A multiline text box is given MULTILINE_ROWS rows so a few lines show.
SLOT_ROW, WIDGET_ROW, BODY_MARGIN, WIDGETS_MARGIN, MULTILINE_ROWS = 20, 24, 6, 8, 3
# What the frontend adds below a node's widgets once its media has loaded (measured with computeSize and
# tools/screenshot_workflows.py --sizes): Load Image keeps ~224 px for its picture (drawn to fit), Load Audio a
# player row, Preview Any room for a short report; video players fill the node's width at the video's aspect
# (the examples and results are square).
PREVIEW_HEIGHT = {"LoadImage": 224, "LoadAudio": 30, "PreviewAny": 120}
PREVIEW_ASPECT = {"LoadVideo": 1.0, "SaveVideo": 1.0}
OUTPUT_PREVIEWS = ("SaveVideo",)


@dataclass
class Node:
    id: int
    type: str
    widgets: dict
    title: str | None = None
    controls: dict = field(default_factory=dict)  # seed input -> "fixed" | "increment" | "randomize"
    width: int = NODE_WIDTH
    height: int | None = None


class WorkflowGraph:
    def __init__(self, node_classes: dict[str, type], pack_properties: dict, core_properties: dict):
        self.classes = node_classes
        self.pack_properties, self.core_properties = pack_properties, core_properties
        self.nodes: list[Node] = []
        self.links: list[tuple[int, int, int, str]] = []  # origin id, origin slot, target id, input name
        self.groups: list[dict] = []

    def node(self, kind: str, pos=None, title: str | None = None, controls: dict | None = None, **widgets) -> Node:
        """Add a node. pos is ignored (kept so older callers work): tools/workflow_layout.py places every node."""
        if kind not in self.classes and kind != "MarkdownNote":
            raise KeyError(f"unknown node type {kind}")
        if kind != "MarkdownNote":
            names = {name for name, _ in widget_layout(self.classes[kind])}
            unknown = set(widgets) - names
            if unknown:
                raise KeyError(f"{kind} has no widget(s) {sorted(unknown)}")
        node = Node(len(self.nodes) + 1, kind, widgets, title, dict(controls or {}))
        if title:
            node.width = max(NODE_WIDTH, round(len(title) * TITLE_CHAR_WIDTH + TITLE_MARGIN))
        self.nodes.append(node)
        return node

    def note(self, pos, text: str, width: int = 420, height: int = 220) -> Node:
        """A Markdown note (pos is ignored: notes go where they cover nothing)."""
        node = self.node("MarkdownNote", text=text)
        node.width, node.height = width, height
        return node

    def link(self, origin: Node, slot: int, target: Node, input_name: str) -> None:
        self.links.append((origin.id, slot, target.id, input_name))

    def group(self, title: str, nodes: list[Node], color: str = "#3f789e", pad: int | None = None) -> None:
        """A titled group around nodes; groups read left to right in the order they are added (pad is ignored)."""
        self.groups.append({"title": title, "members": [n.id for n in nodes], "color": color})

    def _layout(self) -> tuple[dict[int, tuple[float, float]], list[dict]]:
        """(node id -> pos, UI groups) from tools/workflow_layout.py."""
        boxes = {n.id: Box(n.id, n.width, self._height(n), text=n.widgets["text"] if n.type == "MarkdownNote" else None,
                           grows_below=n.type in OUTPUT_PREVIEWS) for n in self.nodes}
        edges = [(origin, target) for origin, _, target, _ in self.links]
        notes = [n.id for n in self.nodes if n.type == "MarkdownNote"]
        rects = layout(boxes, [g["members"] for g in self.groups], edges, notes, [g["title"] for g in self.groups])
        for node in self.nodes:
            if node.type == "MarkdownNote":
                node.width, node.height = boxes[node.id].width, boxes[node.id].height
        groups = [{"id": i + 1, "title": g["title"], "bounding": [r[0], r[1], r[2] - r[0], r[3] - r[1]],
                   "color": g["color"], "font_size": 24, "flags": {}}
                  for i, (g, r) in enumerate(zip(self.groups, rects))]
        return {k: (round(b.x), round(b.y)) for k, b in boxes.items()}, groups

    # ------------------------------------------------------------------ outputs
    def _spec(self, node: Node) -> list[tuple[str, object, str, dict]]:
        spec = self.classes[node.type].INPUT_TYPES()
        return [(name, item[0], section, item[1] if len(item) > 1 else {})
                for section in ("required", "optional") for name, item in spec.get(section, {}).items()]

    def _height(self, node: Node) -> int:
        if node.height is not None:
            return node.height
        if node.type == "MarkdownNote":
            return 200
        spec = self._spec(node)
        sockets = sum(1 for _, kind, _, o in spec if not (isinstance(kind, (list, tuple)) or kind in WIDGET_TYPES))
        layout = widget_layout(self.classes[node.type])
        rows = len(layout) + sum(extra for _, extra in layout)
        outputs = len(self.classes[node.type].RETURN_TYPES)
        rows += sum(MULTILINE_ROWS for _, kind, _, o in spec if o.get("multiline"))
        preview = round(node.width * PREVIEW_ASPECT.get(node.type, 0)) + PREVIEW_HEIGHT.get(node.type, 0)
        return (SLOT_ROW * max(sockets, outputs, 1) + WIDGET_ROW * rows + BODY_MARGIN + (WIDGETS_MARGIN if rows else 0)
                + preview)

    def api(self) -> dict:
        prompt = {}
        for node in self.nodes:
            if node.type == "MarkdownNote":
                continue
            inputs = {}
            for name, kind, _, options in self._spec(node):
                if (isinstance(kind, (list, tuple)) or kind in WIDGET_TYPES) and not options.get("forceInput"):
                    inputs[name] = self._widget_value(node, name)
            for origin, slot, target, name in self.links:
                if target == node.id:
                    inputs[name] = [str(origin), slot]
            prompt[str(node.id)] = {"class_type": node.type, "inputs": inputs}
        return prompt

    def ui(self) -> dict:
        api = self.api()
        link_ids = {link: i + 1 for i, link in enumerate(self.links)}
        ui_nodes, ui_links = [], []
        order = {node_id: i for i, node_id in enumerate(_execution_order(api))}
        positions, groups = self._layout()
        for node in self.nodes:
            entry = {"id": node.id, "type": node.type, "pos": list(positions[node.id]),
                     "size": [node.width, self._height(node)],
                     "flags": {}, "order": order.get(str(node.id), len(order)), "mode": 0}
            if node.type == "MarkdownNote":
                entry.update(inputs=[], outputs=[], properties={}, widgets_values=[node.widgets["text"]],
                             color=NOTE_COLOR, bgcolor=NOTE_BGCOLOR)
                ui_nodes.append(entry)
                continue
            cls = self.classes[node.type]
            incoming = {name: (origin, slot) for origin, slot, target, name in self.links if target == node.id}
            sockets, converted = [], []
            for name, kind, section, options in self._spec(node):
                is_widget = (isinstance(kind, (list, tuple)) or kind in WIDGET_TYPES) and not options.get("forceInput")
                link = link_ids.get((*incoming[name], node.id, name)) if name in incoming else None
                if not is_widget:
                    socket = {"name": name, "type": kind, "link": link}
                    if section == "optional":
                        socket["shape"] = 7
                    sockets.append(socket)
                elif link is not None:
                    converted.append({"name": name, "type": "COMBO" if isinstance(kind, (list, tuple)) else kind,
                                      "widget": {"name": name}, "link": link})
            inputs = sockets + converted
            names = getattr(cls, "RETURN_NAMES", cls.RETURN_TYPES)
            list_outputs = getattr(cls, "OUTPUT_IS_LIST", (False,) * len(cls.RETURN_TYPES))
            outputs = []
            for slot, (kind, name) in enumerate(zip(cls.RETURN_TYPES, names)):
                targets = [link_ids[link] for link in self.links if link[0] == node.id and link[1] == slot]
                output = {"name": name, "type": kind, "links": targets or None, "slot_index": slot}
                if list_outputs[slot]:
                    output["shape"] = 6
                outputs.append(output)
            values = []
            for name, extra in widget_layout(cls):
                values.append(self._widget_value(node, name))
                values.extend(_extra_values(cls, name, extra, node.controls.get(name, "fixed")))
            properties = dict(self.pack_properties if node.type.startswith("Playmate") else self.core_properties)
            properties["Node name for S&R"] = node.type
            entry.update(inputs=inputs, outputs=outputs, properties=properties, widgets_values=values)
            if node.title:
                entry["title"] = node.title
            ui_nodes.append(entry)
            for slot_index, socket in enumerate(inputs):
                if socket["link"] is not None:
                    origin, origin_slot = incoming[socket["name"]]
                    kind = self.classes[self._by_id(origin).type].RETURN_TYPES[origin_slot]
                    ui_links.append([socket["link"], origin, origin_slot, node.id, slot_index, kind])
        ui_links.sort()
        return {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, "playmate/" + "/".join(n.type for n in self.nodes))),
                "revision": 0, "last_node_id": len(self.nodes), "last_link_id": len(self.links), "nodes": ui_nodes,
                "links": ui_links, "groups": groups, "config": {},
                "extra": {"ds": _fitted_view(ui_nodes, groups), "frontendVersion": "1.27.10"}, "version": 0.4}

    def _widget_value(self, node: Node, name: str):
        """The value set in the spec, else the input's default (a combo's first choice, STRING '', numbers 0)."""
        if name in node.widgets:
            return node.widgets[name]
        kind, options = next((k, o) for n, k, _, o in self._spec(node) if n == name)
        if "default" in options:
            return options["default"]
        if isinstance(kind, (list, tuple)):
            return kind[0] if kind else ""
        return {"STRING": "", "BOOLEAN": False}.get(kind, 0)

    def _by_id(self, node_id: int) -> Node:
        return self.nodes[node_id - 1]


def _fitted_view(nodes: list[dict], groups: list[dict]) -> dict:
    """The saved view: the graph centred at the zoom the frontend's fit-to-view gives in a 1600x1000 window."""
    rects = [(n["pos"][0], n["pos"][1] - TITLE_HEIGHT, n["pos"][0] + n["size"][0], n["pos"][1] + n["size"][1])
             for n in nodes]
    rects += [(x, y, x + w, y + h) for x, y, w, h in (g["bounding"] for g in groups)]
    left, top = min(r[0] for r in rects), min(r[1] for r in rects)
    right, bottom = max(r[2] for r in rects), max(r[3] for r in rects)
    scale = fit_scale((left, top, right, bottom))
    offset = [(CANVAS[0] / scale - (right - left)) / 2 - left, (CANVAS[1] / scale - (bottom - top)) / 2 - top]
    return {"scale": round(scale, 4), "offset": [round(v, 1) for v in offset]}


def _extra_values(cls, name: str, extra: int, control: str) -> list:
    """The UI-only widget values after a widget: its value control, then its upload button(s)."""
    options = dict(cls.INPUT_TYPES()["required"].get(name,
                                                     cls.INPUT_TYPES().get("optional", {}).get(name, ((), {})))[1])
    values = [control] if options.get("control_after_generate") else []
    if options.get("image_upload") or options.get("video_upload"):
        values.append("image")
    if options.get("audio_upload"):
        values += [None, None]
    if len(values) != extra:
        raise ValueError(f"{cls.__name__}.{name}: {len(values)} extra widget values, the layout says {extra}")
    return values


def _execution_order(api: dict) -> list[str]:
    order: list[str] = []

    def visit(node_id: str) -> None:
        if node_id in order:
            return
        for value in api[node_id]["inputs"].values():
            if isinstance(value, list):
                visit(value[0])
        order.append(node_id)

    for node_id in api:
        visit(node_id)
    return order
