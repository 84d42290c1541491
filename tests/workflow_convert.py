"""UI-format workflow (what the ComfyUI frontend saves) -> API-format prompt (what /prompt runs).

Follows the frontend's graphToPrompt rules as seen in ComfyUI's own saved workflows
(comfyui-workflow-templates 0.1.95, frontend 1.27.10):

* ``widgets_values`` is positional, one entry per widget in INPUT_TYPES order (required, then optional).
  A widget is an INT / FLOAT / STRING / BOOLEAN or COMBO input without ``forceInput``.
* Widgets that are not sent to the backend still take a slot: the value control after an INT with
  ``control_after_generate`` (e.g. ``[518, "randomize", ...]``), the upload button of ``image_upload`` /
  ``video_upload`` inputs (``["portrait.png", "image"]``) and the player + upload button of ``audio_upload``
  (``["speech.wav", null, null]``).
* ``links`` rows are ``[link_id, origin_id, origin_slot, target_id, target_slot, type]``; a linked input becomes
  ``[str(origin_id), origin_slot]``. A widget converted to an input (an ``inputs`` entry with ``"widget"``) takes
  the link instead of its widget value.
* Note / MarkdownNote are dropped; Reroute is followed to its source; a frontend-only PrimitiveNode gives its
  value to the widgets it feeds. Muted (mode 2) or bypassed (mode 4) nodes are refused (not handled here).
"""

from __future__ import annotations

VIRTUAL_NODES = {"Note", "MarkdownNote"}
WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN"}
UPLOAD_EXTRA_SLOTS = {"image_upload": 1, "video_upload": 1, "audio_upload": 2}


class WorkflowFormatError(ValueError):
    pass


def widget_layout(node_class) -> list[tuple[str, int]]:
    """(widget input name, number of extra UI-only slots after it) in widgets_values order."""
    spec = node_class.INPUT_TYPES()
    layout = []
    for section in ("required", "optional"):
        for name, item in spec.get(section, {}).items():
            kind, options = item[0], (item[1] if len(item) > 1 else {})
            if options.get("forceInput") or not (isinstance(kind, (list, tuple)) or kind in WIDGET_TYPES):
                continue
            extra = 1 if options.get("control_after_generate") else 0
            extra += sum(n for key, n in UPLOAD_EXTRA_SLOTS.items() if options.get(key))
            layout.append((name, extra))
    return layout


def ui_to_api(workflow: dict, node_classes: dict[str, type]) -> dict:
    """Convert a UI workflow to the API prompt the frontend would queue."""
    nodes = {node["id"]: node for node in workflow["nodes"]}
    links = {row[0]: row for row in workflow["links"]}
    prompt = {}
    for node_id, node in nodes.items():
        kind = node["type"]
        if kind in VIRTUAL_NODES or kind in ("Reroute", "PrimitiveNode"):
            continue
        if node.get("mode", 0) in (2, 4):
            raise WorkflowFormatError(f"node {node_id} ({kind}) is muted or bypassed; enable it or delete it")
        if kind not in node_classes:
            raise WorkflowFormatError(f"node {node_id}: unknown node type {kind!r}")
        values = list(node.get("widgets_values") or [])
        inputs: dict = {}
        slot = 0
        for name, extra in widget_layout(node_classes[kind]):
            if slot >= len(values):
                raise WorkflowFormatError(f"node {node_id} ({kind}): widgets_values has no value for {name!r}")
            inputs[name] = values[slot]
            slot += 1 + extra
        if slot != len(values):
            raise WorkflowFormatError(
                f"node {node_id} ({kind}): widgets_values has {len(values)} entries, the node's widgets take {slot}")
        for entry in node.get("inputs", []):
            if entry.get("link") is None:
                continue
            inputs[entry["name"]] = _resolve(links[entry["link"]], nodes, links)
        prompt[str(node_id)] = {"class_type": kind, "inputs": inputs}
    return prompt


def _resolve(link: list, nodes: dict, links: dict):
    """A link's value in the API prompt: [origin id, slot], through Reroutes, or a PrimitiveNode's value."""
    seen = set()
    while True:
        origin = nodes.get(link[1])
        if origin is None:
            raise WorkflowFormatError(f"link {link[0]} starts at node {link[1]}, which is not in the workflow")
        if origin["type"] == "Reroute":
            if origin["id"] in seen:
                raise WorkflowFormatError(f"Reroute loop at node {origin['id']}")
            seen.add(origin["id"])
            upstream = origin["inputs"][0].get("link")
            if upstream is None:
                raise WorkflowFormatError(f"Reroute {origin['id']} has no input")
            link = links[upstream]
            continue
        if origin["type"] == "PrimitiveNode":
            return origin["widgets_values"][0]
        if origin["type"] in VIRTUAL_NODES:
            raise WorkflowFormatError(f"link {link[0]} starts at a {origin['type']}")
        return [str(link[1]), int(link[2])]
