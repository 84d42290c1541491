"""The pack inside a real ComfyUI server (set COMFYUI_DIR to a ComfyUI checkout; skipped otherwise).

The checkout is not modified: the server runs with --base-directory in a temporary folder that holds
custom_nodes/ComfyUI-Playmate (a symlink to this pack), models/ (tiny weights under the public names),
input/ (the test media) and output/, and an in-memory database. COMFYUI_PYTHON picks the interpreter
(default: this one); it needs ComfyUI's requirements.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

import core_nodes
from conftest import REPO_ROOT, fixture_path
from model_files import write_input_media, write_models_folder
from test_workflows import LONG_SECONDS, SPEECH_SECONDS, check_video, load

COMFYUI_DIR = os.environ.get("COMFYUI_DIR")
pytestmark = pytest.mark.skipif(not COMFYUI_DIR, reason="set COMFYUI_DIR to a ComfyUI checkout "
                                                        "to run the pack in a real host")
STARTUP_SECONDS = 300
RUN_SECONDS = 600
CORE_DOUBLES = sorted(core_nodes.NODE_CLASS_MAPPINGS)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, base: Path, log: Path):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [os.environ.get("COMFYUI_PYTHON", sys.executable), "main.py", "--cpu", "--listen", "127.0.0.1",
                   "--port", str(self.port), "--disable-auto-launch", "--base-directory", str(base),
                   "--database-url", "sqlite:///:memory:"]
        self.log = log
        self.process = subprocess.Popen(command, cwd=COMFYUI_DIR, stdout=log.open("w"), stderr=subprocess.STDOUT)

    def get(self, path: str):
        with urllib.request.urlopen(self.url + path, timeout=30) as response:
            return json.loads(response.read())

    def post(self, path: str, body: dict):
        request = urllib.request.Request(self.url + path, json.dumps(body).encode(),
                                         {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    def wait_ready(self) -> None:
        deadline = time.time() + STARTUP_SECONDS
        while time.time() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"ComfyUI exited with {self.process.returncode}:\n{self.log.read_text()[-4000:]}")
            try:
                self.get("/system_stats")
                return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(1)
        pytest.fail(f"ComfyUI did not answer within {STARTUP_SECONDS} s:\n{self.log.read_text()[-4000:]}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("comfy_base")
    (base / "custom_nodes").mkdir()
    (base / "custom_nodes" / "ComfyUI-Playmate").symlink_to(REPO_ROOT, target_is_directory=True)
    write_input_media(base / "input", SPEECH_SECONDS, LONG_SECONDS)
    write_models_folder(base / "models", fixture_path("joyvasa"))
    (base / "output").mkdir()
    host = Server(base, base / "server.log")
    host.wait_ready()
    host.base = base
    yield host
    host.stop()


def test_every_node_is_listed_with_the_frozen_inputs(server):
    frozen = json.loads((REPO_ROOT / "tests" / "node_interface.json").read_text())
    info = server.get("/object_info")
    for node_id, spec in frozen.items():
        assert node_id in info, f"{node_id} is not in the host's /object_info (see the server log for import errors)"
        listed = info[node_id]
        inputs = [(name, section) for section in ("required", "optional")
                  for name in listed["input_order"].get(section, [])]
        assert inputs == [(i["name"], i["section"]) for i in spec["inputs"]], node_id
        for entry in spec["inputs"]:
            kind = listed["input"][entry["section"]][entry["name"]][0]
            assert ("COMBO" if isinstance(kind, list) else kind) == entry["type"], (node_id, entry["name"])
        assert listed["output"] == spec["outputs"] and listed["output_name"] == spec["output_names"], node_id
        assert listed["output_node"] == spec["output_node"], node_id
        assert listed["python_module"].startswith("custom_nodes.")


@pytest.mark.parametrize("node_id", CORE_DOUBLES)
def test_core_doubles_match_the_host(server, node_id):
    listed = server.get(f"/object_info/{node_id}")[node_id]
    double = core_nodes.NODE_CLASS_MAPPINGS[node_id]
    spec = double.INPUT_TYPES()
    for section in ("required", "optional"):
        assert listed["input_order"].get(section, []) == list(spec.get(section, {})), (node_id, section)
        for name, item in spec.get(section, {}).items():
            host_kind, *rest = listed["input"][section][name]
            host_options = rest[0] if rest else {}
            host_combo = isinstance(host_kind, list) or host_kind == "COMBO"  # V3 nodes list combos as "COMBO"
            assert host_combo == isinstance(item[0], (list, tuple)), (node_id, name)
            if not host_combo:
                assert host_kind == item[0], (node_id, name)
            for key in ("default", "min", "max", "image_upload", "audio_upload", "video_upload"):
                assert host_options.get(key) == (item[1] if len(item) > 1 else {}).get(key), (node_id, name, key)
    assert listed["output"] == list(double.RETURN_TYPES)
    assert listed["output_node"] == bool(getattr(double, "OUTPUT_NODE", False))
    assert listed["output_is_list"] == list(getattr(double, "OUTPUT_IS_LIST", (False,) * len(double.RETURN_TYPES)))


def test_the_frontend_extension_is_served(server):
    extensions = server.get("/extensions")
    assert "/extensions/ComfyUI-Playmate/playmate.js" in extensions


def test_the_pack_folder_is_a_template_folder(server):
    templates = server.get("/workflow_templates")
    shipped = sorted(p.stem for p in (REPO_ROOT / "workflows").glob("*.json"))
    assert sorted(templates.get("ComfyUI-Playmate", [])) == shipped
    for name in templates["ComfyUI-Playmate"]:  # served under the title-like names, as the browser asks for them
        assert server.get(f"/api/workflow_templates/ComfyUI-Playmate/{urllib.parse.quote(name)}.json")["nodes"]


def _run(server, name: str) -> list[Path]:
    before = set((server.base / "output").rglob("*.mp4"))
    status, answer = server.post("/prompt", {"prompt": load(name, api=True), "client_id": "playmate-tests",
                                             "extra_data": {"extra_pnginfo": {"workflow": load(name)}}})
    assert status == 200, json.dumps(answer, indent=1)[:4000]
    prompt_id = answer["prompt_id"]
    deadline = time.time() + RUN_SECONDS
    while time.time() < deadline:
        history = server.get(f"/history/{prompt_id}")
        if prompt_id in history:
            entry = history[prompt_id]
            assert entry["status"]["status_str"] == "success", json.dumps(entry["status"], indent=1)[:6000]
            return sorted(set((server.base / "output").rglob("*.mp4")) - before)
        time.sleep(1)
    pytest.fail(f"{name} did not finish within {RUN_SECONDS} s")


@pytest.mark.parametrize("name,videos,seconds",
                         [("talking_portrait", 1, SPEECH_SECONDS), ("pose_from_video", 1, SPEECH_SECONDS),
                                                 ("long_audio", 1, LONG_SECONDS), ("batch", 2, SPEECH_SECONDS),
                                                 ("emotion", 1, SPEECH_SECONDS),
                                                 ("emotion_from_reference", 1, SPEECH_SECONDS)])
def test_workflow_runs_in_the_host(server, name, videos, seconds):
    written = _run(server, name)
    assert len(written) == videos
    for path in written:
        check_video(path, seconds)


def test_animal_workflow_runs_in_the_host(server):
    """The cat photo through crop_mode 'whole image' and the animal/ set, pasted back at the photo's size."""
    written = _run(server, "animal")
    assert len(written) == 1
    check_video(written[0], SPEECH_SECONDS, size=(450, 300))
