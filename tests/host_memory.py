"""Stand-ins for the host's model management (comfy.model_management, comfy.model_patcher).

They keep the parts of ComfyUI 0.3.64's contract the pack relies on (comfy/model_patcher.py,
comfy/model_management.py): ModelPatcher(model, load_device, offload_device) sets a plain ``device``
attribute on the model and sizes it from its state dict; load_models_gpu(patchers, force_full_load)
moves each model to its load device in full, except under --novram (NO_VRAM), where modules without
the host's own cast layers stay on the offload device; unload_all_models() detaches every loaded model
to its offload device. ``calls`` records what was loaded, in order.
"""

from __future__ import annotations

import sys
import types

import torch


def module_size(module: torch.nn.Module) -> int:
    return sum(t.nelement() * t.element_size() for t in module.state_dict().values())


class ModelPatcher:
    def __init__(self, model, load_device, offload_device, size=0, weight_inplace_update=False):
        self.model = model
        if getattr(model, "device", None) is None:
            model.device = offload_device
        self.load_device = load_device
        self.offload_device = offload_device
        self.size = size or module_size(model)
        self.loaded = 0

    def model_size(self) -> int:
        return self.size

    def loaded_size(self) -> int:
        return self.loaded

    def detach(self):
        self.model.to(self.offload_device)
        self.model.device = self.offload_device
        self.loaded = 0
        return self.model


def install(monkeypatch, compute: str = "cpu", offload: str = "cpu", vram_state: str = "NORMAL_VRAM"):
    """Put stand-in comfy.model_management / comfy.model_patcher modules in sys.modules; returns the
    model_management stand-in (its ``calls`` and ``current_loaded_models`` lists are inspectable)."""
    mm = types.ModuleType("comfy.model_management")
    mm.vram_state = vram_state
    mm.calls = []
    mm.current_loaded_models = []
    mm.get_torch_device = lambda: torch.device(compute)
    mm.unet_offload_device = lambda: torch.device(offload)
    mm.module_size = module_size
    mm.throw_exception_if_processing_interrupted = lambda: None

    def load_models_gpu(models, memory_required=0, force_patch_weights=False, minimum_memory_required=None,
                        force_full_load=False):
        for patcher in models:
            mm.calls.append((patcher, force_full_load))
            if mm.vram_state != "NO_VRAM":
                patcher.model.to(patcher.load_device)
                patcher.loaded = patcher.model_size()
            patcher.model.device = patcher.load_device
            if patcher not in mm.current_loaded_models:
                mm.current_loaded_models.insert(0, patcher)

    def unload_all_models():
        while mm.current_loaded_models:
            mm.current_loaded_models.pop().detach()

    mm.load_models_gpu = load_models_gpu
    mm.unload_all_models = unload_all_models
    patcher_module = types.ModuleType("comfy.model_patcher")
    patcher_module.ModelPatcher = ModelPatcher
    comfy = types.ModuleType("comfy")
    comfy.__path__ = []
    comfy.model_management = mm
    comfy.model_patcher = patcher_module
    for name, module in (("comfy", comfy), ("comfy.model_management", mm), ("comfy.model_patcher", patcher_module)):
        monkeypatch.setitem(sys.modules, name, module)
    return mm
