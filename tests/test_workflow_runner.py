"""The in-process runner itself: the host's validation errors, list semantics, hidden inputs, node errors."""

import pytest

from workflow_runner import NodeExecutionError, PromptValidationError, Runner, types_match


class Number:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"default": 1, "min": 0, "max": 10})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    def run(self, value):
        return (value,)


class Words:
    OUTPUT_IS_LIST = (True,)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"text": ("STRING", {"default": ""})}}

    RETURN_TYPES = ("STRING",)
    FUNCTION = "run"

    def run(self, text):
        return (text.split(),)


class Repeat:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"text": ("STRING", {"forceInput": True}), "times": ("INT", {"default": 1, "min": 1}),
                             "mode": (["plain", "upper"],)},
                "optional": {"flag": ("BOOLEAN", {"default": False})}}

    RETURN_TYPES = ("STRING",)
    FUNCTION = "run"

    def run(self, text, times, mode, flag=False):
        out = text * times
        return (out.upper() if mode == "upper" else out,)


class Join:
    INPUT_IS_LIST = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"items": ("STRING",)}}

    RETURN_TYPES = ("STRING",)
    FUNCTION = "run"

    def run(self, items):
        return ("|".join(items),)


class Sink:
    OUTPUT_NODE = True
    seen: list = []

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("*",)}, "hidden": {"node": "UNIQUE_ID", "prompt": "PROMPT"}}

    RETURN_TYPES = ()
    FUNCTION = "run"

    def run(self, value, node=None, prompt=None):
        Sink.seen.append((value, node, sorted(prompt)))
        return {"ui": {"text": [value]}}


class Boom:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    def run(self):
        raise RuntimeError("the model file is corrupt")


CLASSES = {c.__name__: c for c in (Number, Words, Repeat, Join, Sink, Boom)}


@pytest.fixture(autouse=True)
def clear_sink():
    Sink.seen = []


def run(prompt):
    return Runner(CLASSES).run(prompt)


def errors_of(prompt) -> dict:
    with pytest.raises(PromptValidationError) as info:
        run(prompt)
    return {node: [e["type"] for e in entry["errors"]] for node, entry in info.value.node_errors.items()}


def test_list_mapping_repeats_the_shorter_list_and_concatenates_list_outputs():
    prompt = {"1": {"class_type": "Words", "inputs": {"text": "ab cd ef"}},
              "2": {"class_type": "Repeat", "inputs": {"text": ["1", 0], "times": 2, "mode": "upper"}},
              "3": {"class_type": "Sink", "inputs": {"value": ["2", 0]}},
              "4": {"class_type": "Join", "inputs": {"items": ["2", 0]}},
              "5": {"class_type": "Sink", "inputs": {"value": ["4", 0]}},
              "6": {"class_type": "Number", "inputs": {"value": 3}}}  # feeds no output: never runs
    result = run(prompt)
    assert result.outputs["2"] == [["ABAB", "CDCD", "EFEF"]]
    assert result.outputs["4"] == [["ABAB|CDCD|EFEF"]]
    assert result.ui["3"] == {"text": ["ABAB", "CDCD", "EFEF"]}
    assert "6" not in result.executed and result.executed.index("1") < result.executed.index("2")
    assert [s[1] for s in Sink.seen] == ["3", "3", "3", "5"]  # hidden UNIQUE_ID
    assert Sink.seen[0][2] == ["1", "2", "3", "4", "5", "6"]  # hidden PROMPT: the whole prompt


def test_widget_values_are_converted_as_the_host_does():
    prompt = {"1": {"class_type": "Number", "inputs": {"value": "7"}},
              "2": {"class_type": "Repeat", "inputs": {"text": ["1", 0], "times": 2.9, "mode": "plain", "flag": "no"}},
              "3": {"class_type": "Sink", "inputs": {"value": ["1", 0]}}}
    assert run(prompt).outputs["1"] == [[7]]  # "7" -> int; no step rounding in the backend
    assert types_match("INT", "INT,FLOAT") and types_match("*", "IMAGE") and not types_match("IMAGE", "MASK")
    assert types_match(["a", "b"], ["a", "b"]) and not types_match(["a"], "STRING")


def test_each_validation_error_names_its_node():
    prompt = {"1": {"class_type": "Number", "inputs": {"value": 11}},
              "2": {"class_type": "Number", "inputs": {"value": -1}},
              "3": {"class_type": "Repeat", "inputs": {"text": ["1", 0], "times": 1, "mode": "loud"}},
              "4": {"class_type": "Repeat", "inputs": {"text": ["2", 0], "mode": "plain", "colour": 3}},
              "5": {"class_type": "Number", "inputs": {"value": "seven"}},
              "6": {"class_type": "Repeat", "inputs": {"text": ["5", 0], "times": 1, "mode": "plain"}},
              "7": {"class_type": "Repeat", "inputs": {"text": ["1", 3], "times": 1, "mode": "plain"}},
              "8": {"class_type": "Join", "inputs": {"items": ["9", 0]}},
              "9": {"class_type": "Number", "inputs": {"value": 1}}}
    for node in ("1", "2", "3", "4", "5", "6", "7", "8"):  # a mismatched link stops there, as in the host
        prompt[f"s{node}"] = {"class_type": "Sink", "inputs": {"value": [node, 0]}}
    assert errors_of(prompt) == {
        "1": ["value_bigger_than_max"], "2": ["value_smaller_than_min"],
        "3": ["return_type_mismatch", "value_not_in_list"],
        "4": ["unknown_input", "return_type_mismatch", "required_input_missing"], "5": ["invalid_input_type"],
        "6": ["return_type_mismatch"], "7": ["bad_linked_input"], "8": ["return_type_mismatch"]}


def test_prompt_level_errors():
    with pytest.raises(PromptValidationError, match="node Missing does not exist"):
        run({"1": {"class_type": "Missing", "inputs": {}}})
    with pytest.raises(PromptValidationError, match="Prompt has no outputs"):
        run({"1": {"class_type": "Number", "inputs": {"value": 1}}})


def test_a_failing_node_is_reported_with_its_id_and_class():
    prompt = {"1": {"class_type": "Boom", "inputs": {}}, "2": {"class_type": "Sink", "inputs": {"value": ["1", 0]}}}
    with pytest.raises(NodeExecutionError, match=r"node 1 \(Boom\) failed: RuntimeError: the model file is corrupt"):
        run(prompt)
