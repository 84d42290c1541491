"""Compact node declarations that produce the host's classic node attributes.

A node class is declared with ``@node(...)``: its inputs as ``{name: entry}`` dicts built with the helpers below
(``link``, ``boolean``, ``integer``, ``real``, ``text``, ``choice``), its outputs as ``{name: type}``. The decorator
sets INPUT_TYPES, RETURN_TYPES, RETURN_NAMES, FUNCTION, CATEGORY, DESCRIPTION (and OUTPUT_NODE), exactly the
attributes ComfyUI reads, so the pack needs nothing from the host to declare its nodes. ``mappings(...)`` builds a
module's NODE_CLASS_MAPPINGS / NODE_DISPLAY_NAME_MAPPINGS.

A ``choice`` whose choices depend on the machine (model files on disk) takes a function: it is called each time
the host asks for INPUT_TYPES, so new files show up after a refresh.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence, Union

Choices = Union[Sequence[str], Callable[[], Sequence[str]]]


def link(kind: str, tooltip: str) -> tuple:
    """An input connected from another node's output of type ``kind`` (no widget)."""
    return (kind, {"tooltip": tooltip})


def boolean(default: bool, tooltip: str) -> tuple:
    return ("BOOLEAN", {"default": default, "tooltip": tooltip})


def integer(default: int, low: int, high: int, tooltip: str, **extra: Any) -> tuple:
    """An INT widget from ``low`` to ``high``; ``extra`` holds further widget options (step, control_after_generate)."""
    return ("INT", {"default": default, "min": low, "max": high, **extra, "tooltip": tooltip})


def real(default: float, low: float, high: float, step: float, tooltip: str) -> tuple:
    """A FLOAT widget from ``low`` to ``high`` in steps of ``step``."""
    return ("FLOAT", {"default": default, "min": low, "max": high, "step": step, "tooltip": tooltip})


def text(default: str, tooltip: str, multiline: bool = False) -> tuple:
    options: dict = {"default": default, "multiline": True} if multiline else {"default": default}
    return ("STRING", {**options, "tooltip": tooltip})


def choice(choices: Choices, default: str, tooltip: str) -> tuple:
    """A combo; ``choices`` is a sequence, or a function returning one (called on every INPUT_TYPES)."""
    return (choices if callable(choices) else list(choices), {"default": default, "tooltip": tooltip})


def _resolve(section: dict[str, tuple]) -> dict[str, tuple]:
    return {name: (kind() if callable(kind) else kind, *rest) for name, (kind, *rest) in section.items()}


def node(*, display: str, category: str, function: str, outputs: dict[str, str],
         required: dict[str, tuple], optional: dict[str, tuple] | None = None, hidden: dict[str, str] | None = None,
         output_node: bool = False) -> Callable[[type], type]:
    """Class decorator: the classic node attributes from one declaration (inputs keep the order given).

    The class docstring is the node's DESCRIPTION (the text the host shows), joined into one line."""

    def input_types(cls) -> dict:
        spec: dict = {"required": _resolve(required)}
        if optional:
            spec["optional"] = _resolve(optional)
        if hidden:
            spec["hidden"] = dict(hidden)
        return spec

    def declare(cls: type) -> type:
        if not cls.__doc__:
            raise TypeError(f"node {cls.__name__} needs a docstring: it is the DESCRIPTION the host shows")
        cls.INPUT_TYPES = classmethod(input_types)
        cls.RETURN_TYPES = tuple(outputs.values())
        cls.RETURN_NAMES = tuple(outputs)
        cls.FUNCTION = function
        cls.CATEGORY = category
        cls.DESCRIPTION = " ".join(cls.__doc__.split())  # the docstring, as one line
        cls.DISPLAY_NAME = display
        if output_node:
            cls.OUTPUT_NODE = True
        return cls

    return declare


def mappings(*classes: type) -> tuple[dict[str, type], dict[str, str]]:
    """(NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS) of declared classes; a node's id is its class name."""
    return {c.__name__: c for c in classes}, {c.__name__: c.DISPLAY_NAME for c in classes}

