"""Freeze of the public node interface: shared workflows depend on ids, input names and order."""

import json

from node_interface import FROZEN, describe


def test_node_interface_is_unchanged(pack, models_dir):
    current = describe(pack.NODE_CLASS_MAPPINGS)
    frozen = json.loads(FROZEN.read_text())
    for node_id, spec in frozen.items():
        assert node_id in current, f"node {node_id} was removed or renamed: shared workflows would break"
        names_now = [i["name"] for i in current[node_id]["inputs"]]
        names_frozen = [i["name"] for i in spec["inputs"]]
        assert names_now[: len(names_frozen)] == names_frozen, (
            f"{node_id}: inputs renamed or reordered ({names_frozen} -> {names_now}); add new inputs at the end only"
        )
    assert current == frozen, (
        "the node interface changed; if the change is deliberate and backwards compatible, "
        "run `python tests/node_interface.py --write` and commit tests/node_interface.json"
    )
