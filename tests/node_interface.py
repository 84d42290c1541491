"""The public node interface (ids, inputs in order with types and defaults, outputs) as JSON.

``python tests/node_interface.py --write`` refreshes tests/node_interface.json after a deliberate,
backwards-compatible change (new inputs appended at the end, new nodes).

The freeze does not depend on the machine: a combo whose choices are the model files found on disk (the
loaders' file lists) is frozen as ``"choices": "model files"`` with its default, not as the list found. Such
combos are recognised by describing the nodes twice, with the file listing answering nothing and answering a
probe file, and keeping the choices only where both agree.
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path

FROZEN = Path(__file__).with_name("node_interface.json")
MODEL_FILES = "model files"
PROBE_FILES = ["zz_interface_probe.safetensors", "zz_interface_probe.pt", "zz_interface_probe/config.json"]
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


def _describe_nodes(mappings: dict) -> dict:
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


@contextmanager
def _model_listing(host, files: list[str]):
    """host.list_model_files answering ``files`` for every model kind."""
    real = host.list_model_files
    host.list_model_files = lambda kind, extensions=None: list(files)
    try:
        yield
    finally:
        host.list_model_files = real


def describe(pack) -> dict:
    """The interface of an imported pack (conftest.import_pack()), independent of the model files installed."""
    host = sys.modules[f"{pack.__name__}.nodes.host"]
    with _model_listing(host, []):
        bare = _describe_nodes(pack.NODE_CLASS_MAPPINGS)
    with _model_listing(host, PROBE_FILES):
        probed = _describe_nodes(pack.NODE_CLASS_MAPPINGS)
    for node_id, node in bare.items():
        for entry, other in zip(node["inputs"], probed[node_id]["inputs"]):
            if entry.get("choices") != other.get("choices"):
                entry["choices"] = MODEL_FILES
    return bare


if __name__ == "__main__" and "--write" in sys.argv:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from conftest import import_pack

    FROZEN.write_text(json.dumps(describe(import_pack()), indent=1) + "\n")
    print(f"wrote {FROZEN}")
