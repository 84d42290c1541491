"""The pack ships small example inputs with clear licences that make every template run on its first Queue; the
host's input folder gets them on load, without overwriting anything the user has."""

from __future__ import annotations

import json
import sys
from types import SimpleNamespace

from conftest import REPO_ROOT

EXAMPLES = REPO_ROOT / "example_inputs"
MEDIA_WIDGETS = {"LoadImage": "image", "LoadAudio": "audio", "LoadVideo": "file"}


def example_files() -> list[str]:
    return sorted(p.name for p in EXAMPLES.iterdir() if p.suffix != ".md")


def test_every_input_the_workflows_name_is_shipped():
    needed = set()
    for path in (REPO_ROOT / "workflows" / "api").glob("*.json"):
        for node in json.loads(path.read_text()).values():
            if node["class_type"] in MEDIA_WIDGETS:
                needed.add(node["inputs"][MEDIA_WIDGETS[node["class_type"]]])
    assert needed and needed <= set(example_files())


def test_examples_are_small_and_licensed():
    assert sum((EXAMPLES / name).stat().st_size for name in example_files()) < 500_000
    licences = (EXAMPLES / "README.md").read_text()
    for name in example_files():
        assert f"`{name}`" in licences, f"{name} has no source/licence line"


def test_examples_are_copied_into_the_input_folder_without_overwriting(pack, tmp_path, monkeypatch):
    host = sys.modules[pack.__name__ + ".nodes.host"]
    inputs = tmp_path / "input"
    inputs.mkdir()
    (inputs / "playmate_speech.flac").write_bytes(b"the user's own file")
    monkeypatch.setattr(host, "_folder_paths", lambda: SimpleNamespace(get_input_directory=lambda: str(inputs)))
    copied = host.install_example_inputs()
    assert copied == [n for n in example_files() if n != "playmate_speech.flac"]
    assert (inputs / "playmate_speech.flac").read_bytes() == b"the user's own file"
    for name in copied:
        assert (inputs / name).read_bytes() == (EXAMPLES / name).read_bytes()
    assert host.install_example_inputs() == []  # a second load copies nothing
    assert not (inputs / "README.md").exists()


def test_a_failed_copy_leaves_no_half_file(pack, tmp_path, monkeypatch, caplog):
    """A disk that fills up mid-copy: the half-written example is removed, so the next load copies it whole."""
    host = sys.modules[pack.__name__ + ".nodes.host"]
    inputs = tmp_path / "input"
    monkeypatch.setattr(host, "_folder_paths", lambda: SimpleNamespace(get_input_directory=lambda: str(inputs)))

    def disk_full(src, dst):
        dst.write(src.read(10))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(host.shutil, "copyfileobj", disk_full)
    assert host.install_example_inputs() == []
    assert list(inputs.iterdir()) == [] and "No space left on device" in caplog.text
    monkeypatch.undo()
    monkeypatch.setattr(host, "_folder_paths", lambda: SimpleNamespace(get_input_directory=lambda: str(inputs)))
    assert host.install_example_inputs() == example_files()
