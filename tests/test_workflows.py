"""The example workflows: each UI file converts to its API twin, and each API file runs end to end on the
CPU in the in-process runner with tiny weights under the public model names."""

from __future__ import annotations

import json
import math
from pathlib import Path

import av
import numpy as np
import pytest

import core_nodes
from conftest import REPO_ROOT, fixture_path
from model_files import write_input_media, write_models_folder
from workflow_convert import WorkflowFormatError, ui_to_api
from workflow_runner import Runner

WORKFLOWS = REPO_ROOT / "workflows"
NAMES = sorted(p.stem for p in (WORKFLOWS / "api").glob("*.json"))
FPS = 25.0
SPEECH_SECONDS = 0.16  # 4 frames: the tiny renderer still costs ~1-2 s per 512x512 frame on this CPU
LONG_SECONDS = 0.32  # 8 frames, streamed


@pytest.fixture(scope="module")
def comfy_folders(tmp_path_factory):
    """ComfyUI-like input / output / models folders; the pack's host fallback and the core doubles use them."""
    root = tmp_path_factory.mktemp("comfy")
    inputs, outputs = root / "input", root / "output"
    write_input_media(inputs, SPEECH_SECONDS, LONG_SECONDS)
    write_models_folder(root / "models", fixture_path("joyvasa"))
    patch = pytest.MonkeyPatch()
    patch.setenv("PLAYMATE_MODELS_DIR", str(root / "models"))
    patch.setenv("PLAYMATE_OUTPUT_DIR", str(outputs))
    patch.setattr(core_nodes.Folders, "input", str(inputs))
    patch.setattr(core_nodes.Folders, "output", str(outputs))
    yield {"input": inputs, "output": outputs}
    patch.undo()


@pytest.fixture(scope="module")
def node_classes(pack):
    return {**pack.NODE_CLASS_MAPPINGS, **core_nodes.NODE_CLASS_MAPPINGS}


def ui_files() -> dict[str, Path]:
    """The UI file of each workflow by its API twin's name (the UI file is named by its template title)."""
    found = {}
    for path in WORKFLOWS.glob("*.json"):
        found[json.loads(path.read_text())["extra"].get("playmate_workflow", path.stem)] = path
    return found


def load(name: str, api: bool = False) -> dict:
    path = WORKFLOWS / "api" / f"{name}.json" if api else ui_files()[name]
    return json.loads(path.read_text())


def test_every_workflow_has_an_api_twin():
    assert set(NAMES) == {"talking_portrait", "emotion", "emotion_from_reference", "pose_from_video", "long_audio",
                          "batch", "animal"}
    assert sorted(ui_files()) == NAMES


def test_templates_have_human_titles_in_order():
    titles = sorted(path.stem for path in ui_files().values())
    assert titles[0] == "1. Talking portrait"
    assert [t.split(".")[0] for t in titles] == [str(i + 1) for i in range(len(titles))], \
        f"every workflow needs a numbered title in tools/make_workflows.py TEMPLATE_TITLES: {titles}"
    assert all((WORKFLOWS / f"{t}.jpg").is_file() for t in titles)  # each card has its thumbnail


@pytest.mark.parametrize("name", NAMES)
def test_ui_workflow_converts_to_its_api_twin(name, node_classes):
    workflow = load(name)
    assert workflow["version"] == 0.4 and workflow["groups"], "a UI workflow with groups"
    assert any(n["type"] == "MarkdownNote" for n in workflow["nodes"]), "a note says what to set"
    assert ui_to_api(workflow, node_classes) == load(name, api=True)


def test_converter_follows_the_frontends_slots_and_links(node_classes):
    """A hand-written UI graph in the frontend's format: upload and value-control slots, a converted widget fed
    by a link, a Reroute, a PrimitiveNode and a Note."""
    workflow = {"nodes": [
        {"id": 1, "type": "LoadImage", "inputs": [], "widgets_values": ["portrait.png", "image"]},
        {"id": 2, "type": "LoadAudio", "inputs": [], "widgets_values": ["speech.wav", None, None]},
        {"id": 3, "type": "PlaymateMotionSampler", "widgets_values": [25, 1.5, 1.5, 7, "randomize", 0.2, "ddim"],
         "inputs": [{"name": "model", "link": None}, {"name": "steps", "widget": {"name": "steps"}, "link": 3}]},
        {"id": 4, "type": "PrimitiveNode", "inputs": [], "outputs": [{"links": [3]}], "widgets_values": [12, "fixed"]},
        {"id": 5, "type": "Reroute", "inputs": [{"name": "", "link": 1}]},
        {"id": 6, "type": "CreateVideo", "widgets_values": [30],
         "inputs": [{"name": "images", "link": 2}, {"name": "audio", "link": None}]},
        {"id": 7, "type": "Note", "inputs": [], "widgets_values": ["text"]},
    ], "links": [[1, 1, 0, 5, 0, "IMAGE"], [2, 5, 0, 6, 0, "IMAGE"], [3, 4, 0, 3, 3, "INT"]]}
    api = ui_to_api(workflow, node_classes)
    assert api["1"]["inputs"] == {"image": "portrait.png"}
    assert api["2"]["inputs"] == {"audio": "speech.wav"}
    assert api["3"]["inputs"] == {"steps": 12, "audio_cfg": 1.5, "emotion_cfg": 1.5, "seed": 7, "pose_smoothing": 0.2,
                                  "sampler": "ddim"}
    assert api["6"]["inputs"] == {"fps": 30, "images": ["1", 0]}
    assert set(api) == {"1", "2", "3", "6"}
    workflow["nodes"][2]["widgets_values"] = [25, 1.5, 1.5, 7, 0.2, "ddim"]  # saved without the seed's control
    with pytest.raises(WorkflowFormatError, match="widgets_values has no value for 'sampler'"):
        ui_to_api(workflow, node_classes)
    workflow["nodes"][2]["widgets_values"] = [25, 1.5, 1.5, 7, "fixed", 0.2, "ddim", "extra"]
    with pytest.raises(WorkflowFormatError, match="widgets_values has 8 entries, the node's widgets take 7"):
        ui_to_api(workflow, node_classes)


def decode(path: Path) -> dict:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        frames = sum(1 for _ in container.decode(video))
        info = {"frames": frames, "size": (video.width, video.height), "fps": float(video.average_rate)}
    with av.open(str(path)) as container:
        audio = container.streams.audio
        info["audio_seconds"] = None
        if audio:
            samples = sum(f.samples for f in container.decode(audio[0]))
            info["audio_seconds"] = samples / audio[0].codec_context.sample_rate
    return info


def run_workflow(name, node_classes, comfy_folders) -> tuple[list[Path], dict]:
    before = set(comfy_folders["output"].rglob("*.mp4"))
    result = Runner(node_classes).run(load(name, api=True), extra_data={"extra_pnginfo": {"workflow": load(name)}})
    written = sorted(set(comfy_folders["output"].rglob("*.mp4")) - before)
    return written, result


def check_video(path: Path, seconds: float, size=(512, 512)) -> None:
    info = decode(path)
    assert info["frames"] == math.ceil(seconds * FPS)
    assert info["size"] == size and info["fps"] == FPS
    assert info["audio_seconds"] == pytest.approx(info["frames"] / FPS, abs=0.05)


@pytest.mark.parametrize("name", ["talking_portrait", "pose_from_video"])
def test_workflow_writes_a_talking_video(name, node_classes, comfy_folders):
    written, result = run_workflow(name, node_classes, comfy_folders)
    assert len(written) == 1 and written[0].parent.name == "Playmate"
    check_video(written[0], SPEECH_SECONDS)
    ui = next(u for u in result.ui.values() if "images" in u)
    assert ui["images"][0]["filename"] == written[0].name and ui["animated"] == [True]
    with av.open(str(written[0])) as container:  # the workflow is embedded, so the MP4 drops back into the UI
        assert json.loads(container.metadata["workflow"])["nodes"]


def test_emotion_workflow(node_classes, comfy_folders):
    written, _ = run_workflow("emotion", node_classes, comfy_folders)
    assert len(written) == 1
    check_video(written[0], SPEECH_SECONDS)


def test_emotion_from_reference_workflow_runs_with_joyvasa(node_classes, comfy_folders):
    """The reference photo's expression reaches the motion: the sampler's output carries its offset."""
    prompt = load("emotion_from_reference", api=True)
    emotion_id = next(k for k, v in prompt.items() if v["class_type"] == "PlaymateEmotion")
    sampler_id = next(k for k, v in prompt.items() if v["class_type"] == "PlaymateMotionSampler")
    assert prompt[emotion_id]["inputs"]["label"] == "neutral" and "reference" in prompt[emotion_id]["inputs"]
    written, result = run_workflow("emotion_from_reference", node_classes, comfy_folders)
    assert len(written) == 1
    check_video(written[0], SPEECH_SECONDS)
    ((motion,),) = result.outputs[sampler_id]
    assert motion.expression_offset.shape == (1, motion.num_frames, 63) and motion.expression_offset.abs().max() > 0


def test_long_audio_workflow_streams_the_video(node_classes, comfy_folders):
    written, result = run_workflow("long_audio", node_classes, comfy_folders)
    assert len(written) == 1
    check_video(written[0], LONG_SECONDS)
    render_id = next(i for i, n in load("long_audio", api=True).items() if n["class_type"] == "PlaymateRenderVideo")
    assert result.outputs[render_id][1] == [str(written[0])]


def test_batch_workflow_writes_one_video_per_portrait(node_classes, comfy_folders):
    written, result = run_workflow("batch", node_classes, comfy_folders)
    assert len(written) == 2
    for path in written:
        check_video(path, SPEECH_SECONDS)
    first, second = (decode_first_frame(p) for p in written)
    assert np.abs(first.astype(int) - second.astype(int)).mean() > 10  # two different portraits


def decode_first_frame(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return next(container.decode(video=0)).to_ndarray(format="rgb24")


def test_animal_workflow_runs_without_the_face_detector(pack, node_classes, comfy_folders, monkeypatch):
    """The cat photo through crop_mode 'whole image' and the animal/ set: no detector call, an animal renderer,
    no eye/lip ratios, and the video pasted back at the photo's size (451x300 -> even 450x300)."""
    def no_detector(*_args):
        raise AssertionError("the face detector was used")

    monkeypatch.setattr(pack.nodes.portrait, "_detector", no_detector)
    written, result = run_workflow("animal", node_classes, comfy_folders)
    assert len(written) == 1
    check_video(written[0], SPEECH_SECONDS, size=(450, 300))
    api = load("animal", api=True)
    node_of = {n["class_type"]: i for i, n in api.items()}
    assert result.outputs[node_of["PlaymateLoadLivePortrait"]][0][0].species == "animal"
    portrait = result.outputs[node_of["PlaymateLoadPortrait"]][0][0]
    source = result.outputs[node_of["PlaymateExtractKeypoints"]][0][0]
    assert portrait.crop_mode == "whole image" and source.eye_ratio is None and source.lip_ratio is None


def widget_defaults(node_class, linked: set[str]) -> dict:
    """Every widget input of a node at the value a freshly added node shows: its default, else the first choice."""
    values = {}
    for section in ("required", "optional"):
        for name, spec in node_class.INPUT_TYPES().get(section, {}).items():
            options = spec[1] if len(spec) > 1 else {}
            if name in linked:
                continue
            if "default" in options:
                values[name] = options["default"]
            elif isinstance(spec[0], list):
                values[name] = spec[0][0]
    return values


def test_hand_built_graph_with_every_node_at_its_defaults_makes_a_video(node_classes, comfy_folders, caplog):
    """Issue 14's new user: the nodes added by hand and wired, no widget touched (only the two input files picked).
    The defaults work together: JoyVASA with its own embedded HuBERT, its own sampler settings (logged)."""
    links = {  # node id -> (class, {input: [origin id, output slot]})
        "image": ("LoadImage", {}), "audio": ("LoadAudio", {}), "renderer": ("PlaymateLoadLivePortrait", {}),
        "portrait": ("PlaymateLoadPortrait", {"image": ["image", 0]}),
        "source": ("PlaymateExtractKeypoints", {"renderer": ["renderer", 0], "portrait": ["portrait", 0]}),
        "model": ("PlaymateLoadMotionModel", {}),
        "features": ("PlaymateEncodeAudio", {"audio": ["audio", 0], "encoder": ["model", 1]}),
        "motion": ("PlaymateMotionSampler", {"model": ["model", 0], "source": ["source", 0],
                                             "audio_features": ["features", 0]}),
        "frames": ("PlaymateRenderFrames", {"renderer": ["renderer", 0], "source": ["source", 0],
                                            "motion": ["motion", 0], "portrait": ["portrait", 0],
                                            "audio": ["features", 2]}),
        "video": ("CreateVideo", {"images": ["frames", 0], "audio": ["frames", 1], "fps": ["frames", 2]}),
        "save": ("SaveVideo", {"video": ["video", 0]}),
    }
    prompt = {node: {"class_type": cls, "inputs": {**widget_defaults(node_classes[cls], set(wired)), **wired}}
              for node, (cls, wired) in links.items()}
    prompt["image"]["inputs"]["image"] = "playmate_portrait.jpg"
    prompt["audio"]["inputs"]["audio"] = "playmate_speech.flac"
    assert prompt["model"]["inputs"]["model_name"] == "motion_generator_hubert_chinese.pt"
    assert (prompt["motion"]["inputs"]["steps"], prompt["motion"]["inputs"]["audio_cfg"]) == (0, -1.0)
    before = set(comfy_folders["output"].rglob("*.mp4"))
    with caplog.at_level("INFO"):
        result = Runner(node_classes).run(prompt)
    written = sorted(set(comfy_folders["output"].rglob("*.mp4")) - before)
    assert len(written) == 1
    check_video(written[0], SPEECH_SECONDS)
    features = result.outputs["features"][0][0]
    assert features.encoder == "joyvasa-hubert" and features.source == ("motion_generator_hubert_chinese.pt's "
                                                                        "embedded HuBERT")
    assert "'motion_generator_hubert_chinese.pt' (joyvasa): 50 steps (the model's own), audio_cfg 4 (the model's own)" \
        in caplog.text
