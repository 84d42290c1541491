"""nodes/spec.py: a declaration gives the classic attributes the host reads (the freeze checks every real node)."""

import importlib.util
from pathlib import Path

import pytest

SPEC_FILE = Path(__file__).resolve().parents[1] / "nodes" / "spec.py"


def load_spec():
    module_spec = importlib.util.spec_from_file_location("playmate_node_spec", SPEC_FILE)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def test_declaration_gives_the_classic_attributes_and_lists_files_on_every_call():
    spec = load_spec()
    listing = [["a.safetensors"]]

    @spec.node(display="Demo (Playmate)", category="Playmate/demo", function="run",
               required={"model": spec.choice(lambda: listing[0], "a.safetensors", "Model file."),
                         "seed": spec.integer(0, 0, 9, "Seed.", control_after_generate=True)},
               optional={"scale": spec.real(1.5, 0.0, 10.0, 0.05, "Scale."),
                         "notes": spec.text("", "Notes.", multiline=True)},
               hidden={"prompt": "PROMPT"}, outputs={"image": "IMAGE", "count": "INT"}, output_node=True)
    class Demo:
        """Runs the demo,
        in two lines."""

    assert Demo.INPUT_TYPES() == {
        "required": {"model": (["a.safetensors"], {"default": "a.safetensors", "tooltip": "Model file."}),
                     "seed": ("INT", {"default": 0, "min": 0, "max": 9, "control_after_generate": True,
                                      "tooltip": "Seed."})},
        "optional": {"scale": ("FLOAT", {"default": 1.5, "min": 0.0, "max": 10.0, "step": 0.05, "tooltip": "Scale."}),
                     "notes": ("STRING", {"default": "", "multiline": True, "tooltip": "Notes."})},
        "hidden": {"prompt": "PROMPT"},
    }
    assert (Demo.RETURN_TYPES, Demo.RETURN_NAMES) == (("IMAGE", "INT"), ("image", "count"))
    assert (Demo.FUNCTION, Demo.CATEGORY, Demo.OUTPUT_NODE) == ("run", "Playmate/demo", True)
    assert Demo.DESCRIPTION == "Runs the demo, in two lines."
    listing[0] = ["a.safetensors", "b.safetensors"]  # a file added on disk shows up on the next refresh
    assert Demo.INPUT_TYPES()["required"]["model"][0] == ["a.safetensors", "b.safetensors"]
    assert spec.mappings(Demo) == ({"Demo": Demo}, {"Demo": "Demo (Playmate)"})


def test_a_node_without_docstring_is_refused():
    spec = load_spec()
    with pytest.raises(TypeError, match="node Bare needs a docstring"):
        @spec.node(display="Bare", category="Playmate", function="run", required={}, outputs={})
        class Bare:
            pass
