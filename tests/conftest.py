"""Shared test fixtures: the data under tests/fixtures/, the pack imported the way the host imports it."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURES_DIR = REPO_ROOT / "tests" / "fixtures"

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))


def fixture_path(*parts: str) -> Path:
    """A file under tests/fixtures/ (see its README.md); a missing one fails the calling test, naming the file.

    The layout is the full fixture set's: ``fixture_path("media", "audio", name)``, ``fixture_path("joyvasa", name)``
    (a leading "fixtures" part, as in that set's ``fixtures/joyvasa/...``, is accepted too)."""
    parts = parts[1:] if parts[:1] == ("fixtures",) else parts
    path = FIXTURES_DIR.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"test fixture tests/fixtures/{'/'.join(parts)} is "
                    "missing (tests/fixtures/README.md lists every file)",
                    pytrace=False)
    return path


def import_pack():
    """The pack imported as a package from its folder, as ComfyUI's load_custom_node does."""
    name = "comfyui_playmate_under_test"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        name, REPO_ROOT / "__init__.py", submodule_search_locations=[str(REPO_ROOT)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def pack():
    return import_pack()


@pytest.fixture
def models_dir(tmp_path, monkeypatch):
    """An empty models root used by the nodes' host fallback (no ComfyUI in tests)."""
    root = tmp_path / "models"
    root.mkdir()
    monkeypatch.setenv("PLAYMATE_MODELS_DIR", str(root))
    monkeypatch.setenv("PLAYMATE_OUTPUT_DIR", str(tmp_path / "output"))
    return root
