"""Freeze of the public node interface: shared workflows depend on ids, input names and order."""

import json

from node_interface import FROZEN, MODEL_FILES, describe


def test_node_interface_is_unchanged(pack, models_dir):
    current = describe(pack)
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


def test_the_freeze_ignores_the_model_files_installed(pack, models_dir):
    """Files in the models folders change the loaders' dropdowns, never the frozen interface."""
    before = describe(pack)
    for kind, name in (("liveportrait", "mine.safetensors"), ("playmate", "mine.safetensors"),
                       ("audio_encoders", "mine/config.json")):
        path = models_dir / kind / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")
    assert describe(pack) == before
    file_lists = {(n, i["name"]) for n, s in before.items() for i in s["inputs"] if i.get("choices") == MODEL_FILES}
    assert ("PlaymateLoadLivePortrait", "motion_extractor") in file_lists
    assert ("PlaymateLoadMotionModel", "model_name") in file_lists
    assert ("PlaymateEmotion", "label") not in file_lists  # fixed choices stay frozen
