"""The pack imports without ComfyUI, and the library never imports it."""

import ast
from pathlib import Path

from conftest import REPO_ROOT

HOST_MODULES = {"comfy", "folder_paths", "comfy_api", "comfy_extras", "server", "execution", "nodes"}


def test_pack_imports_without_host(pack):
    assert isinstance(pack.NODE_CLASS_MAPPINGS, dict)
    assert set(pack.NODE_DISPLAY_NAME_MAPPINGS) <= set(pack.NODE_CLASS_MAPPINGS)
    for node_id in pack.NODE_CLASS_MAPPINGS:
        assert node_id.startswith("Playmate"), node_id


def test_library_has_no_host_import():
    offenders = []
    for path in Path(REPO_ROOT, "playmate_core").rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in HOST_MODULES]
    assert offenders == []
