"""The public node interface (ids, inputs in order with types and defaults, outputs) as JSON.

``python tests/node_interface.py --write`` refreshes tests/node_interface.json after a deliberate,
backwards-compatible change (new inputs appended at the end, new nodes). Computed with an empty
models folder, so model-file combos list only their public default names.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

FROZEN = Path(__file__).with_name("node_interface.json")
MACHINE_DEVICES = "<the devices this machine has>"  # the device combos list auto + what torch finds here


def _describe_input(spec) -> dict:
    kind, options = spec[0], (spec[1] if len(spec) > 1 else {})
    entry: dict = {"type": "COMBO" if isinstance(kind, (list, tuple)) else kind}
    if isinstance(kind, (list, tuple)):
        entry["choices"] = list(kind)
    for key in ("default", "min", "max", "step", "control_after_generate", "multiline"):
        if key in options:
            entry[key] = options[key]
    return entry


def describe(mappings: dict) -> dict:
    out = {}
    for node_id in sorted(mappings):
        cls = mappings[node_id]
        spec = cls.INPUT_TYPES()
        inputs = []
        for section in ("required", "optional"):
            for name, item in spec.get(section, {}).items():
                entry = {"name": name, "section": section, **_describe_input(item)}
                if name == "device" and entry.get("choices", [None])[0] == "auto":
                    entry["choices"] = ["auto", MACHINE_DEVICES]
                inputs.append(entry)
        out[node_id] = {
            "inputs": inputs,
            "outputs": list(cls.RETURN_TYPES),
            "output_names": list(getattr(cls, "RETURN_NAMES", cls.RETURN_TYPES)),
            "output_node": bool(getattr(cls, "OUTPUT_NODE", False)),
        }
    return out


if __name__ == "__main__" and "--write" in sys.argv:
    import os

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    with tempfile.TemporaryDirectory() as empty:
        os.environ["PLAYMATE_MODELS_DIR"] = empty
        from conftest import import_pack

        FROZEN.write_text(json.dumps(describe(import_pack().NODE_CLASS_MAPPINGS), indent=1) + "\n")
    print(f"wrote {FROZEN}")
