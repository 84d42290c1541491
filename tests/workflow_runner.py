"""Run an API-format prompt in-process, following ComfyUI's execution contract (test-only, no ComfyUI import).

The rules mirror the host (Comfy-Org/ComfyUI execution.py and comfy_execution/validation.py at a125cd84):

* Validation starts from the OUTPUT_NODE nodes and walks their inputs. Errors are collected per node as
  ``node_errors[node_id] = {"errors": [{"type", "message", "details", "extra_info"}], "class_type"}`` with the
  host's error types: required_input_missing, bad_linked_input, return_type_mismatch, invalid_input_type,
  value_smaller_than_min, value_bigger_than_max, value_not_in_list, custom_validation_failed.
* Widget constants are converted as the host does (``int(v)``, ``float(v)``, ``str(v)``, ``bool(v)``; a
  ``{"__value__": v}`` wrapper is unwrapped) and then checked against min / max and combo lists. The backend
  does not round to ``step`` (the frontend's widgets do), so neither does this runner.
* Link types match when equal, when the comma-separated type sets overlap, or when either side is ``"*"``
  (the host's typed IO strings treat ``"*"`` as a wildcard); combo outputs match an equal combo list.
* Stricter than the host on purpose: an input name the node does not declare is an error
  (``unknown_input``); the host silently drops it, which hides a stale or mistyped workflow.
* Execution runs only what the valid outputs need, in dependency order, each node instance called through
  its FUNCTION once per list element (shorter lists repeat their last element), or once with whole lists
  for INPUT_IS_LIST; OUTPUT_IS_LIST outputs are concatenated. Hidden inputs PROMPT, EXTRA_PNGINFO,
  UNIQUE_ID and DYNPROMPT are filled. A failure raises NodeExecutionError naming the node id and class.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

PRIMITIVE_CONVERSIONS = {"INT": int, "FLOAT": float, "STRING": str, "BOOLEAN": bool}


class PromptValidationError(Exception):
    """The prompt failed validation; ``error`` is the top-level error, ``node_errors`` the per-node ones."""

    def __init__(self, error: dict, node_errors: dict):
        self.error, self.node_errors = error, node_errors
        lines = [f"{error['message']}: {error['details']}".rstrip(": ")]
        for node_id, entry in node_errors.items():
            for reason in entry["errors"]:
                lines.append(f"  node {node_id} ({entry['class_type']}): {reason['message']}: {reason['details']}")
        super().__init__("\n".join(lines))


class NodeExecutionError(Exception):
    """A node raised while executing (the host's execution_error message)."""

    def __init__(self, node_id: str, class_type: str, exception: BaseException):
        self.node_id, self.class_type, self.exception = node_id, class_type, exception
        super().__init__(f"node {node_id} ({class_type}) failed: {type(exception).__name__}: {exception}")


@dataclass
class RunResult:
    outputs: dict[str, list[list[Any]]] = field(default_factory=dict)  # node id -> one list per output slot
    ui: dict[str, dict[str, list]] = field(default_factory=dict)  # output node id -> merged UI payload
    executed: list[str] = field(default_factory=list)  # node ids in execution order


def is_link(value) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], int)


def types_match(received, expected) -> bool:
    """The host's validate_node_input (non-strict), with '*' as a wildcard."""
    if isinstance(received, (list, tuple)) or isinstance(expected, (list, tuple)):
        sequences = isinstance(received, (list, tuple)) and isinstance(expected, (list, tuple))
        return sequences and list(received) == list(expected)
    if received == expected or "*" in (received, expected):
        return True
    return bool({t.strip() for t in received.split(",")} & {t.strip() for t in expected.split(",")})


def _input_info(class_inputs: dict, name: str):
    for category in ("required", "optional", "hidden"):
        if name in class_inputs.get(category, {}):
            spec = class_inputs[category][name]
            if category == "hidden":
                return spec, category, {}
            return spec[0], category, (spec[1] if len(spec) > 1 else {})
    return None, None, None


def _error(kind: str, message: str, details: str, **extra) -> dict:
    return {"type": kind, "message": message, "details": details, "extra_info": extra}


class Runner:
    """Validates and executes API-format prompts against a mapping of node classes."""

    def __init__(self, node_classes: dict[str, type]):
        self.classes = node_classes

    # ------------------------------------------------------------------ validation
    def validate(self, prompt: dict) -> tuple[list[str], dict]:
        """-> (valid output node ids, node_errors); raises PromptValidationError when no output is valid."""
        for node_id, node in prompt.items():
            if "class_type" not in node:
                raise PromptValidationError(
                    _error("invalid_prompt", "Cannot execute because a node is missing the class_type property.",
                           f"Node ID '#{node_id}'"), {})
            if node["class_type"] not in self.classes:
                raise PromptValidationError(
                    _error("invalid_prompt", f"Cannot execute because node {node['class_type']} does not exist.",
                           f"Node ID '#{node_id}'"), {})
        outputs = [i for i, n in prompt.items() if getattr(self.classes[n["class_type"]], "OUTPUT_NODE", False) is True]
        if not outputs:
            raise PromptValidationError(_error("prompt_no_outputs", "Prompt has no outputs", ""), {})
        validated: dict[str, tuple[bool, list]] = {}
        good, node_errors = [], {}
        for output in outputs:
            if self._validate_node(prompt, output, validated, ()):
                good.append(output)
                continue
            for node_id, (ok, reasons) in validated.items():
                if not ok and reasons and node_id not in node_errors:
                    node_errors[node_id] = {"errors": reasons, "class_type": prompt[node_id]["class_type"],
                                            "dependent_outputs": []}
                if node_id in node_errors and output not in node_errors[node_id]["dependent_outputs"]:
                    node_errors[node_id]["dependent_outputs"].append(output)
        if not good:
            raise PromptValidationError(
                _error("prompt_outputs_failed_validation", "Prompt outputs failed validation", ""), node_errors)
        return good, node_errors

    def _validate_node(self, prompt: dict, node_id: str, validated: dict, path: tuple) -> bool:
        if node_id in validated:
            return validated[node_id][0]
        if node_id in path:
            validated[node_id] = (False,
                                  [_error("dependency_cycle", "Dependency cycle detected",
                                          " -> ".join(path + (node_id,)))])
            return False
        node = prompt[node_id]
        cls = self.classes[node["class_type"]]
        class_inputs = cls.INPUT_TYPES()
        inputs = node.get("inputs", {})
        custom = getattr(cls, "VALIDATE_INPUTS", None)
        custom_args = inspect.getfullargspec(custom) if custom is not None else None
        custom_names = set(custom_args.args) if custom_args else set()
        takes_kwargs = bool(custom_args and custom_args.varkw)
        errors, ok = [], True
        declared = [*class_inputs.get("required", {}), *class_inputs.get("optional", {})]
        for name in inputs:
            if name not in declared:
                errors.append(_error("unknown_input", "Input not declared by the node", f"{name}", input_name=name,
                                     declared=sorted(declared)))
        for name in declared:
            input_type, category, options = _input_info(class_inputs, name)
            if name not in inputs:
                if category == "required":
                    errors.append(_error("required_input_missing", "Required input is missing", name, input_name=name))
                continue
            value = inputs[name]
            if isinstance(value, list):
                reason, upstream_ok = self._check_link(prompt, name, value, input_type, validated, path + (node_id,),
                                                       "input_types" in custom_names)
                if reason is not None:
                    errors.append(reason)
                ok = ok and upstream_ok
                continue
            if isinstance(value, dict) and "__value__" in value:
                value = inputs[name] = value["__value__"]
            if isinstance(input_type, str) and input_type in PRIMITIVE_CONVERSIONS:
                try:
                    value = inputs[name] = PRIMITIVE_CONVERSIONS[input_type](value)
                except (TypeError, ValueError) as exc:
                    errors.append(_error("invalid_input_type", "Failed to convert an input value to a "
                                                               f"{input_type} value",
                                         f"{name}, {value}, {exc}", input_name=name, received_value=value))
                    continue
            if name in custom_names or takes_kwargs:
                continue
            if "min" in options and value < options["min"]:
                errors.append(_error("value_smaller_than_min", f"Value {value} smaller than min of {options['min']}",
                                     name, input_name=name, received_value=value))
            elif "max" in options and value > options["max"]:
                errors.append(_error("value_bigger_than_max", f"Value {value} bigger than max of {options['max']}",
                                     name, input_name=name, received_value=value))
            elif isinstance(input_type, (list, tuple)) and value not in input_type:
                errors.append(_error("value_not_in_list", "Value not in list",
                                     f"{name}: '{value}' not in {list(input_type)}",
                                     input_name=name, received_value=value))
        if custom is not None and not errors and ok:
            constants = {k: v for k, v in inputs.items()
                         if not isinstance(v, list) and (k in custom_names or takes_kwargs)}
            verdict = custom(**constants)
            if verdict is not True:
                errors.append(_error("custom_validation_failed", "Custom validation failed for node",
                                     "" if verdict is False else str(verdict)))
        validated[node_id] = (not errors and ok, errors)
        return validated[node_id][0]

    def _check_link(self, prompt, name, link, input_type, validated, path, skip_type_check):
        """-> (error or None, whether the upstream node is valid)."""
        if len(link) != 2:
            return _error("bad_linked_input", "Bad linked input, must be a length-2 list of [node_id, slot_index]",
                          name, input_name=name, received_value=link), True
        source_id, slot = link
        if source_id not in prompt:
            return _error("bad_linked_input", "Linked node is not in the prompt", f"{name}: node {source_id!r}",
                          input_name=name), True
        returns = self.classes[prompt[source_id]["class_type"]].RETURN_TYPES
        if not isinstance(slot, int) or not 0 <= slot < len(returns):
            return _error("bad_linked_input", "Linked output slot does not exist",
                          f"{name}: node {source_id} has {len(returns)} outputs, slot {slot}", input_name=name), True
        received = returns[slot]
        if not skip_type_check and not types_match(received, input_type):
            return _error("return_type_mismatch", "Return type mismatch between linked nodes",
                          f"{name}, received_type({received}) mismatch input_type({input_type})",
                          input_name=name, received_type=received, linked_node=link), True
        return None, self._validate_node(prompt, source_id, validated, path)

    # ------------------------------------------------------------------ execution
    def run(self, prompt: dict, extra_data: dict | None = None) -> RunResult:
        """Validate, then execute what the valid outputs need. The prompt itself is not modified."""
        import copy

        prompt = copy.deepcopy(prompt)
        original = copy.deepcopy(prompt)
        outputs, _ = self.validate(prompt)
        result = RunResult()
        order: list[str] = []
        for output in outputs:
            self._schedule(prompt, output, order)
        for node_id in order:
            self._execute(prompt, original, node_id, result, extra_data or {})
        return result

    def _schedule(self, prompt, node_id, order):
        if node_id in order:
            return
        for value in prompt[node_id].get("inputs", {}).values():
            if is_link(value):
                self._schedule(prompt, value[0], order)
        order.append(node_id)

    def _execute(self, prompt, original, node_id, result: RunResult, extra_data: dict) -> None:
        class_type = prompt[node_id]["class_type"]
        cls = self.classes[class_type]
        class_inputs = cls.INPUT_TYPES()
        data: dict[str, list] = {}
        for name, value in prompt[node_id].get("inputs", {}).items():
            _, category, _ = _input_info(class_inputs, name)
            if is_link(value):
                data[name] = result.outputs[value[0]][value[1]]
            elif category is not None:
                data[name] = [value]
        hidden_values = {"PROMPT": original, "EXTRA_PNGINFO": extra_data.get("extra_pnginfo"), "UNIQUE_ID": node_id,
                         "DYNPROMPT": None}
        for name, kind in class_inputs.get("hidden", {}).items():
            if kind in hidden_values:
                data[name] = [hidden_values[kind]]
        instance = cls()
        function = getattr(instance, cls.FUNCTION)
        try:
            if getattr(cls, "INPUT_IS_LIST", False):
                returns = [function(**data)]
            elif not data:
                returns = [function()]
            else:
                count = max(len(v) for v in data.values())
                returns = [function(**{k: v[i if len(v) > i else -1] for k, v in data.items()}) for i in range(count)]
        except Exception as exc:  # noqa: BLE001 - reported with the node's id and class, like the host
            raise NodeExecutionError(node_id, class_type, exc) from exc
        result.outputs[node_id] = self._merge(cls, returns, node_id, class_type)
        uis = [r["ui"] for r in returns if isinstance(r, dict) and r.get("ui")]
        if uis:
            result.ui[node_id] = {key: [item for ui in uis for item in ui.get(key, ())] for key in uis[0]}
        result.executed.append(node_id)

    @staticmethod
    def _merge(cls, returns, node_id, class_type) -> list[list]:
        tuples = []
        for value in returns:
            if isinstance(value, dict):
                value = value.get("result", ())
            if not isinstance(value, tuple) or len(value) != len(cls.RETURN_TYPES):
                raise NodeExecutionError(node_id, class_type, TypeError(
                    f"returned {type(value).__name__} of length {len(value) if isinstance(value, tuple) else '?'}, "
                    f"expected a tuple of {len(cls.RETURN_TYPES)} ({', '.join(map(str, cls.RETURN_TYPES))})"))
            tuples.append(value)
        is_list = getattr(cls, "OUTPUT_IS_LIST", (False,) * len(cls.RETURN_TYPES))
        merged = []
        for slot, concat in enumerate(is_list):
            merged.append([x for t in tuples for x in t[slot]] if concat else [t[slot] for t in tuples])
        return merged
