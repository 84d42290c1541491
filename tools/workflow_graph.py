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

NODE_WIDTH = 340
NOTE_COLOR, NOTE_BGCOLOR = "#432", "#653"


@dataclass
class Node:
    id: int
    type: str
    pos: tuple[float, float]
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

    def node(self, kind: str, pos, title: str | None = None, controls: dict | None = None, **widgets) -> Node:
        if kind not in self.classes and kind != "MarkdownNote":
            raise KeyError(f"unknown node type {kind}")
        if kind != "MarkdownNote":
            names = {name for name, _ in widget_layout(self.classes[kind])}
            unknown = set(widgets) - names
            if unknown:
                raise KeyError(f"{kind} has no widget(s) {sorted(unknown)}")
        node = Node(len(self.nodes) + 1, kind, tuple(pos), widgets, title, dict(controls or {}))
        self.nodes.append(node)
        return node

    def note(self, pos, text: str, width: int = 420, height: int = 220) -> Node:
        node = self.node("MarkdownNote", pos, text=text)
        node.width, node.height = width, height
        return node

    def link(self, origin: Node, slot: int, target: Node, input_name: str) -> None:
        self.links.append((origin.id, slot, target.id, input_name))

    def group(self, title: str, nodes: list[Node], color: str = "#3f789e", pad: int = 30) -> None:
        left = min(n.pos[0] for n in nodes) - pad
        top = min(n.pos[1] for n in nodes) - pad - 40
        right = max(n.pos[0] + n.width for n in nodes) + pad
        bottom = max(n.pos[1] + self._height(n) for n in nodes) + pad
        self.groups.append({"id": len(self.groups) + 1, "title": title, "bounding": [left, top, right - left, bottom - top],
                            "color": color, "font_size": 24, "flags": {}})

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
        widgets = len(widget_layout(self.classes[node.type]))
        outputs = len(self.classes[node.type].RETURN_TYPES)
        multiline = sum(3 for _, kind, _, o in spec if o.get("multiline"))
        preview = 260 if node.type in ("LoadImage", "LoadVideo", "SaveVideo") else 0
        return 46 + 22 * max(sockets, outputs) + 26 * (widgets + multiline) + preview

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
        for node in self.nodes:
            entry = {"id": node.id, "type": node.type, "pos": list(node.pos), "size": [node.width, self._height(node)],
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
                "links": ui_links, "groups": self.groups, "config": {},
                "extra": {"ds": {"scale": 0.6, "offset": [60, 80]}, "frontendVersion": "1.27.10"}, "version": 0.4}

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


def _extra_values(cls, name: str, extra: int, control: str) -> list:
    """The UI-only widget values after a widget: its value control, then its upload button(s)."""
    options = dict(cls.INPUT_TYPES()["required"].get(name, cls.INPUT_TYPES().get("optional", {}).get(name, ((), {})))[1])
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
