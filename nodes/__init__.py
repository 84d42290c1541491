"""Node registry: every node module exports NODE_CLASS_MAPPINGS / NODE_DISPLAY_NAME_MAPPINGS."""

from . import audio, emotion, host, loaders, motion, portrait, pose, render

_MODULES = (loaders, portrait, audio, motion, emotion, pose, render)

NODE_CLASS_MAPPINGS = {}
NODE_DISPLAY_NAME_MAPPINGS = {}
for _module in _MODULES:
    NODE_CLASS_MAPPINGS.update(_module.NODE_CLASS_MAPPINGS)
    NODE_DISPLAY_NAME_MAPPINGS.update(_module.NODE_DISPLAY_NAME_MAPPINGS)

host.register_model_folders()
host.install_example_inputs()
