"""Write the example workflows: workflows/<title>.json (UI format, shown in ComfyUI's templates browser under
its title, TEMPLATE_TITLES) and workflows/api/<name>.json (API format, for /prompt and scripts).

    python tools/make_workflows.py

The graphs are described once here; tests/test_workflows.py converts every UI file back to the API
format with the frontend's rules (tests/workflow_convert.py) and runs every API file end to end.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tools")]

import core_nodes  # noqa: E402
from workflow_graph import WorkflowGraph  # noqa: E402

OUT = ROOT / "workflows"
# encoder None: the motion model carries its own (JoyVASA's embedded HuBERT, Load Motion Model's second output)
JOYVASA = {"encoder": None, "model": "motion_generator_hubert_chinese.pt"}
PLAYMATE = {"encoder": "wav2vec2-base-960h", "model": "playmate_motion.safetensors"}

MODELS_NOTE = "**Models** ({family}): {downloads} put {motion} in `ComfyUI/models/playmate/` (README: Models)."
DOWNLOADS = {
    "joyvasa": "the LivePortrait networks download on first use; JoyVASA hears speech with its own HuBERT, "
               "embedded in its file (Load Motion Model's **audio_encoder** output);",
    "playmate": "the LivePortrait networks and the `{encoder}` audio encoder download on first use;",
}

JOYVASA_FILES = "`motion_generator_hubert_chinese.pt` + `motion_template.pkl` (JoyVASA, MIT)"
PLAYMATE_FILES = ("`playmate_motion.safetensors` + `playmate_emotion.safetensors`, trained with "
                  "`python -m playmate_core train`")


def node_classes() -> dict[str, type]:
    with tempfile.TemporaryDirectory() as empty:
        os.environ["PLAYMATE_MODELS_DIR"] = empty
        from conftest import import_pack

        classes = dict(import_pack().NODE_CLASS_MAPPINGS)
    classes.update(core_nodes.NODE_CLASS_MAPPINGS)
    return classes


def new_graph(classes) -> WorkflowGraph:
    meta = {}
    for line in (ROOT / "pyproject.toml").read_text().splitlines():
        if line.startswith(("name =", "version =")):
            key, value = line.split("=", 1)
            meta[key.strip()] = value.strip().strip('"')
    return WorkflowGraph(classes, {"cnr_id": meta["name"], "ver": meta["version"]},
                         {"cnr_id": "comfy-core", "ver": "0.3.64"})


def talking_head(g: WorkflowGraph, family: dict, images: list[str] | None = None,
                 audio_file: str = "playmate_speech.flac",
                 seed_control: str = "fixed") -> dict:
    """The shared chain: photo(s) + speech -> portrait, keypoints, features, motion. Returns the nodes by role."""
    n = {}
    files = images or ["playmate_portrait.jpg"]
    loads = [g.node("LoadImage", (0, 20 + 380 * i), image=f) for i, f in enumerate(files)]
    image_out = loads[0]
    if len(loads) > 1:
        batch = g.node("ImageBatch", (380, 20), title="Image Batch (centre-crops to the first)")
        g.link(loads[0], 0, batch, "image1")
        g.link(loads[1], 0, batch, "image2")
        rebatch = g.node("RebatchImages", (380, 160), title="Rebatch Images (one per job)", batch_size=1)
        g.link(batch, 0, rebatch, "images")
        n["batch"], n["rebatch"] = batch, rebatch
        image_out = rebatch
    y_audio = 20 + 380 * len(files)
    n["audio"] = g.node("LoadAudio", (0, y_audio), audio=audio_file)
    n["loads"] = loads
    n["renderer"] = g.node("PlaymateLoadLivePortrait", (0, y_audio + 200))
    x = 380 if len(loads) == 1 else 760
    n["portrait"] = g.node("PlaymateLoadPortrait", (x, 20))
    g.link(image_out, 0, n["portrait"], "image")
    n["source"] = g.node("PlaymateExtractKeypoints", (x, 420))
    g.link(n["renderer"], 0, n["source"], "renderer")
    g.link(n["portrait"], 0, n["source"], "portrait")
    n["features"] = g.node("PlaymateEncodeAudio", (x, 760))
    g.link(n["audio"], 0, n["features"], "audio")
    n["model"] = g.node("PlaymateLoadMotionModel", (x + 380, 20), model_name=family["model"])
    if family["encoder"] is None:  # the motion model's own encoder
        g.link(n["model"], 1, n["features"], "encoder")
    else:
        n["encoder"] = g.node("PlaymateLoadAudioEncoder", (x, 560), encoder_name=family["encoder"])
        g.link(n["encoder"], 0, n["features"], "encoder")
    # steps / audio_cfg stay at their defaults: the loaded model's own values
    n["sampler"] = g.node("PlaymateMotionSampler", (x + 380, 420), controls={"seed": seed_control})
    g.link(n["model"], 0, n["sampler"], "model")
    g.link(n["source"], 0, n["sampler"], "source")
    g.link(n["features"], 0, n["sampler"], "audio_features")
    n["x"] = x + 760
    return n


def link_render_inputs(g: WorkflowGraph, n: dict, render) -> None:
    """Renderer, source, motion and portrait into a render node, with the speech fitted by Encode Audio."""
    for origin, name in ((n["renderer"], "renderer"), (n["source"], "source"), (n["sampler"], "motion"),
                         (n["portrait"], "portrait")):
        g.link(origin, 0, render, name)
    g.link(n["features"], 2, render, "audio")


def note_with_models(g: WorkflowGraph, pos, text: str, family: dict, height: int) -> None:
    """A note: what the workflow does and what to set, then the models it needs."""
    key = "joyvasa" if family is JOYVASA else "playmate"
    name, files = ("JoyVASA", JOYVASA_FILES) if family is JOYVASA else ("Playmate, with emotion control",
                                                                        PLAYMATE_FILES)
    downloads = DOWNLOADS[key].format(encoder=family["encoder"])
    g.note(pos, text + "\n\n" + MODELS_NOTE.format(family=name, downloads=downloads, motion=files))


def frames_to_video(g: WorkflowGraph, n: dict, prefix: str) -> None:
    x = n["x"]
    render = g.node("PlaymateRenderFrames", (x, 20))
    link_render_inputs(g, n, render)
    create = g.node("CreateVideo", (x + 380, 20), fps=25.0)
    g.link(render, 0, create, "images")
    g.link(render, 2, create, "fps")
    g.link(render, 1, create, "audio")
    save = g.node("SaveVideo", (x + 380, 200), filename_prefix=prefix)
    g.link(create, 0, save, "video")
    n.update(render=render, create=create, save=save)


def standard_groups(g: WorkflowGraph, n: dict, extra_motion: list | None = None, extra_inputs: list | None = None,
                    inputs_title: str = "1. Photo and speech") -> None:
    g.group(inputs_title,
            n["loads"] + [n["audio"]] + (extra_inputs or []) + [n[k] for k in ("batch", "rebatch") if k in n])
    g.group("2. Portrait and audio", [n["portrait"], n["source"]] + [n[k] for k in ("encoder",) if k in n]
            + [n["features"], n["renderer"]])
    g.group("3. Motion", [n["model"], n["sampler"]] + (extra_motion or []))
    outputs = [n[k] for k in ("render", "create", "save") if k in n]
    if outputs:
        g.group("4. Render and save", outputs)


def talking_portrait(classes):
    g = new_graph(classes)
    n = talking_head(g, JOYVASA)
    frames_to_video(g, n, "Playmate/talking_portrait")
    standard_groups(g, n)
    note_with_models(g, (n["x"], 560), "## Talking portrait\nQueue: the example photo speaks the "
                     "example clip. Pick your own in **Load Image** (one face) and **Load Audio**. "
                     "The video (25 fps, with the speech) lands in `ComfyUI/output/Playmate/`. "
                     "Another **seed** = another take of the head motion.", JOYVASA, 420)
    return g


def emotion(classes):
    g = new_graph(classes)
    n = talking_head(g, PLAYMATE)
    n["model"].widgets["emotion_model"] = "playmate_emotion.safetensors"
    emo = g.node("PlaymateEmotion", (n["x"] - 380, 760), label="happy", emotion_scale=1.5,
                 schedule="# start_s end_s label (the rest of the clip uses the label above)\n0.0 1.0 neutral")
    g.link(emo, 0, n["sampler"], "emotion")
    frames_to_video(g, n, "Playmate/emotion")
    standard_groups(g, n, [emo])
    note_with_models(g, (n["x"], 560), "## Emotion\nThe face speaks with the **Emotion** node's label, optionally "
                     "blended with a second one. **schedule**: other labels for time ranges in seconds, one per line "
                     "(`2.5 4 sad`). **emotion_scale**: higher = stronger expression, looser lip sync.", PLAYMATE, 460)
    return g


def emotion_from_reference(classes):
    g = new_graph(classes)
    n = talking_head(g, JOYVASA)
    reference = g.node("LoadImage", (n["x"] - 380, 760), title="Load Image (reference expression)",
                       image="playmate_portrait_2.jpg")
    emo = g.node("PlaymateEmotion", (n["x"] - 380, 1140), label="neutral", emotion_scale=1.0, lip_weight=0.0,
                 schedule="# start_s end_s ref1 / ref2 / neutral; outside "
                          "the ranges: ref1. Example:\n# 0.0 0.5 neutral")
    g.link(n["renderer"], 0, emo, "renderer")
    g.link(reference, 0, emo, "reference")
    g.link(emo, 0, n["sampler"], "emotion")
    frames_to_video(g, n, "Playmate/emotion_from_reference")
    standard_groups(g, n, [reference, emo])
    note_with_models(g, (n["x"], 560), "## Emotion from a reference photo\nNo training: the face takes "
                     "the expression of the photo in **Load Image (reference expression)** (a smile, a "
                     "frown, surprise; the same person transfers best), and the lips keep following the "
                     "speech (**lip_weight** 0).\n\n**emotion_scale** is the strength: 1 = the "
                     "reference's expression, 0 = none. A batch of references is ref1, ref2, ... for the "
                     "**schedule** (`2 4 ref2`, `4-6: ref1+neutral@0.5`); ranges switch with short ramps.",
                     JOYVASA, 480)
    return g


def pose_from_video(classes):
    g = new_graph(classes)
    n = talking_head(g, JOYVASA)
    video = g.node("LoadVideo", (n["x"] - 380, 760), file="playmate_driving.mp4")
    pose = g.node("PlaymatePoseFromVideo", (n["x"] - 380, 1120))
    g.link(n["renderer"], 0, pose, "renderer")
    g.link(video, 0, pose, "video")
    g.link(n["features"], 0, pose, "audio_features")
    g.link(pose, 0, n["sampler"], "pose")
    report = g.node("PreviewAny", title="Pose report (after a run)")
    g.link(pose, 2, report, "source")
    frames_to_video(g, n, "Playmate/pose_from_video")
    standard_groups(g, n, [pose, report], [video], "1. Photo, speech and driving video")
    note_with_models(g, (n["x"], 560), "## Head pose from a driving video\nThe head follows the face "
                     "in **Load Video** (its first frame is the rest pose); lips and expression follow "
                     "the speech. **length_policy**: a shorter video loops, ping_pongs, holds its last "
                     "pose (hold_last) or is trimmed. **Pose report** shows the faces found per frame; "
                     "fps / images_fps only matter without audio features / for an IMAGE input.", JOYVASA, 460)
    return g


def long_audio(classes):
    g = new_graph(classes)
    n = talking_head(g, JOYVASA, audio_file="playmate_long_speech.flac")
    render = g.node("PlaymateRenderVideo", (n["x"], 20), filename_prefix="Playmate/long_audio")
    link_render_inputs(g, n, render)
    n["render"] = render
    standard_groups(g, n)
    note_with_models(g, (n["x"] + 380, 20), "## Long speech (minutes)\n**Render Video** streams the MP4 (H.264 "
                     "+ AAC) to `ComfyUI/output/Playmate/` chunk by chunk, so memory stays flat however long "
                     "the speech; the audio is encoded in JoyVASA's 4 s windows and the sampler runs in "
                     "windows. Lower **batch_size** if memory runs out; **crf** 18 = visually lossless.", JOYVASA, 460)
    return g


def batch(classes):
    g = new_graph(classes)
    n = talking_head(g, JOYVASA, images=["playmate_portrait.jpg", "playmate_portrait_2.jpg"], seed_control="increment")
    frames_to_video(g, n, "Playmate/batch")
    standard_groups(g, n)
    note_with_models(g, (n["x"], 560), "## Several portraits in one job\n**Image Batch** + **Rebatch "
                     "Images** make a list: every node after them runs once per photo, so **Save "
                     "Video** writes one video per portrait. Chain more Image Batch nodes for more "
                     "photos; for many speech clips, queue `workflows/api/batch.json` from a script.", JOYVASA, 520)
    return g


ANIMAL_NOTE = """## Animal portrait (no face detector)
1. Pick the animal photo in **Load Image** (the example is `playmate_animal.jpg`, a cat) and a speech clip.
2. **Load Portrait** crops without a detector: *crop_mode* `whole image` (the photo resized to 256x256, as
   JoyVASA's animal CLI does) or `box` (set box_x0..box_y1 in pixels around the head, or connect a MASK).
   *letterbox* keeps a non-square photo's aspect ratio.
3. **Load LivePortrait** takes the four base networks from `liveportrait/animal/` (the animal set) and the
   human stitching module, as the official animal pipeline does; it is recognised as an animal set and the
   motion is applied with the official animal settings.

Eye / lip retargeting needs human face landmarks and is unavailable here.

## Models (JoyVASA, animal)
- `liveportrait/animal/`: appearance_feature_extractor, motion_extractor, warping_module, spade_generator
  (Kijai's `animal/` folder; `python -m playmate_core download --only liveportrait_animal`)
- `liveportrait/`: stitching_retargeting_module (the human one)
- `playmate/`: {motion} (JoyVASA carries its own HuBERT)"""


def animal(classes):
    g = new_graph(classes)
    n = talking_head(g, JOYVASA, images=["playmate_animal.jpg"])
    n["portrait"].widgets["crop_mode"] = "whole image"
    for network in ("appearance_feature_extractor", "motion_extractor", "warping_module", "spade_generator"):
        n["renderer"].widgets[network] = f"animal/{network}.safetensors"
    frames_to_video(g, n, "Playmate/animal")
    n["render"].widgets["stitching"] = False  # the official animal CLI renders without stitching
    standard_groups(g, n)
    g.note(None, ANIMAL_NOTE.format(motion=JOYVASA_FILES), 760, 560)
    return g


WORKFLOWS = {"talking_portrait": talking_portrait, "emotion": emotion, "emotion_from_reference": emotion_from_reference,
             "pose_from_video": pose_from_video, "long_audio": long_audio, "batch": batch, "animal": animal}
# The templates browser (frontend 1.27) titles a custom node's template with its file name and describes it with
# that name, '_' and '-' read as spaces; the number gives the order (simplest first). A workflow without a title
# here keeps its key as file name. The API twin is always workflows/api/<key>.json.
TEMPLATE_TITLES = {"talking_portrait": "1. Talking portrait",
                   "emotion_from_reference": "2. Emotion from a reference photo",
                   "pose_from_video": "3. Head pose from a video", "long_audio": "4. Long speech",
                   "batch": "5. Several portraits", "animal": "6. Animal portrait",
                   "emotion": "7. Emotion (trained Playmate models)"}


def ui_file_name(key: str) -> str:
    return TEMPLATE_TITLES.get(key, key)


def remove_stale_ui_files(key: str) -> None:
    """Delete a UI file written for this workflow under another name; its thumbnail moves to the new name."""
    for path in OUT.glob("*.json"):
        if path.stem != ui_file_name(key) and (path.stem == key or _workflow_key(path) == key):
            path.unlink()
            thumbnail = path.with_suffix(".jpg")
            if thumbnail.exists():
                thumbnail.replace(OUT / f"{ui_file_name(key)}.jpg")


def _workflow_key(path: Path) -> str | None:
    return json.loads(path.read_text()).get("extra", {}).get("playmate_workflow")


def main() -> None:
    classes = node_classes()
    (OUT / "api").mkdir(parents=True, exist_ok=True)
    for name, build in WORKFLOWS.items():
        if len(sys.argv) > 1 and name not in sys.argv[1:]:
            continue
        graph = build(classes)
        ui = graph.ui()
        ui["extra"]["playmate_workflow"] = name  # the API twin's name, for scripts and tests
        remove_stale_ui_files(name)
        (OUT / f"{ui_file_name(name)}.json").write_text(json.dumps(ui, indent=1, ensure_ascii=False) + "\n")
        (OUT / "api" / f"{name}.json").write_text(json.dumps(graph.api(), indent=1, ensure_ascii=False) + "\n")
        print(f"wrote workflows/{ui_file_name(name)}.json and workflows/api/{name}.json")


if __name__ == "__main__":
    main()
