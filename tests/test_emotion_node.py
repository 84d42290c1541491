"""The Emotion node and its schedule parser: labels, blends, ranges resolved per frame, and the errors users see."""

import pytest
import torch

from playmate_core.audio.features import AudioFeatures
from playmate_core.implicit.source import SourceFeatures
from playmate_core.motion.conditions import EMOTION_LABELS, EmotionCondition
from playmate_core.motion.emotion_schedule import build_emotion, parse_schedule
from playmate_core.motion.generation import generate_motion
from playmate_core.motion.models.playmate import PlaymateConfig, PlaymateMotionModel

LABELS = ["neutral", "angry", "disgusted", "contempt", "fear", "happy", "sad", "surprised"]


def token(label):
    return EMOTION_LABELS.index(label)


def test_node_contract(pack):
    node = pack.NODE_CLASS_MAPPINGS["PlaymateEmotion"]
    assert pack.NODE_DISPLAY_NAME_MAPPINGS["PlaymateEmotion"] == "Emotion (Playmate)"
    spec = node.INPUT_TYPES()
    assert list(spec) == ["required", "optional"]
    assert list(spec["required"]) == ["label", "emotion_scale", "blend_with", "blend_amount", "schedule"]
    req = spec["required"]
    assert req["label"][0] == LABELS and req["label"][1]["default"] == "neutral"  # the safe default
    assert req["blend_with"][0] == ["none"] + LABELS and req["blend_with"][1]["default"] == "none"
    scale = req["emotion_scale"][1]
    assert (scale["default"], scale["min"], scale["max"]) == (1.5, 0.0, 10.0)
    assert (req["blend_amount"][1]["default"], req["blend_amount"][1]["max"]) == (0.5, 1.0)
    assert req["schedule"][0] == "STRING" and req["schedule"][1]["multiline"] is True
    assert all(options.get("tooltip") for _, options in req.values())
    assert node.CATEGORY == "Playmate/motion" and node.DESCRIPTION
    assert node.RETURN_TYPES == ("PLAYMATE_EMOTION",) and node.RETURN_NAMES == ("emotion",)


def test_node_builds_label_blend_and_scale(pack):
    node = pack.NODE_CLASS_MAPPINGS["PlaymateEmotion"]()
    (plain,) = node.build("sad", 2.0, "none", 0.8, "")
    assert isinstance(plain, EmotionCondition) and plain.guidance == 2.0 and plain.ranges == ()
    expected = torch.zeros(1, 9)
    expected[0, token("sad")] = 1.0
    assert torch.equal(plain.weights, expected)  # blend_amount is ignored without blend_with
    (mixed,) = node.build("happy", 1.5, "surprised", 0.25, "")
    assert mixed.weights[0, token("happy")] == pytest.approx(0.75)
    assert mixed.weights[0, token("surprised")] == pytest.approx(0.25)
    assert float(mixed.weights.sum()) == pytest.approx(1.0)


def test_schedule_forms_resolve_per_frame():
    text = """
    # intro stays neutral
    0 1 neutral
    1.0-2: sad          # dash form
    2.5, 3, happy+sad@0.3
    3s 3.5s angry+fear
    """
    ranges = parse_schedule(text)
    assert [(r.start_s, r.end_s, r.line) for r in ranges] == [(0, 1, 3), (1, 2, 4), (2.5, 3, 5), (3, 3.5, 6)]
    condition = build_emotion("happy", 1.5, "none", 0.5, text)
    rows = condition.per_frame(100, fps=10.0)  # frame i at i / 10 s
    assert rows.shape == (100, 9)
    assert int(rows[0:10].argmax(1).unique()) == token("neutral")
    assert int(rows[10:20].argmax(1).unique()) == token("sad")
    assert int(rows[20:25].argmax(1).unique()) == token("happy")  # the gap 2-2.5 s uses the base label
    assert rows[25, token("happy")] == pytest.approx(0.7) and rows[25, token("sad")] == pytest.approx(0.3)
    assert rows[30, token("angry")] == pytest.approx(0.5) and rows[30, token("fear")] == pytest.approx(0.5)
    assert int(rows[35:].argmax(1).unique()) == token("happy")  # after the last range
    torch.testing.assert_close(rows.sum(1), torch.ones(100))
    with pytest.raises(ValueError, match="frame rate"):
        condition.per_frame(100)


@pytest.mark.parametrize("text, message", [
    ("0 1 joyful", r"line 1 \('0 1 joyful'\): unknown emotion label 'joyful'; valid labels: neutral, angry"),
    ("0 1 happy+glad@0.2", "unknown emotion label 'glad'"),
    ("0 1 happy+sad@1.5", "blend amount .* within 0 .. 1"),
    ("-1 2 happy", "start -1 s is negative"),
    ("2 2 happy", "end 2 s must be after start 2 s"),
    ("\n3 1 sad", r"line 2 \('3 1 sad'\): end 1 s must be after start 3 s"),
    ("0 2 happy\n5 6 sad\n1.5 3 angry", r"overlap: line 1 \('0 2 happy'\) covers 0-2 s "
                                        r"and line 3 \('1.5 3 angry'\) starts at 1.5 s"),
    ("happy from 0 to 1", "expected '<start_s> <end_s> <label>'"),
])
def test_schedule_errors_name_the_line(text, message):
    with pytest.raises(ValueError, match=message):
        parse_schedule(text)


def test_node_errors(pack):
    node = pack.NODE_CLASS_MAPPINGS["PlaymateEmotion"]()
    with pytest.raises(ValueError, match="unknown emotion label 'calm'"):
        node.build("calm", 1.5, "none", 0.5, "")
    with pytest.raises(ValueError, match="line 1 .*unknown emotion label 'null'"):  # the null token is internal
        node.build("happy", 1.5, "none", 0.5, "0 1 null")
    with pytest.raises(ValueError, match="blend amount"):
        node.build("happy", 1.5, "sad", 1.2, "")


def _emotion_model():
    torch.manual_seed(0)
    return PlaymateMotionModel(PlaymateConfig.preset("tiny", audio_dim=8, audio_encoder="",
                                                     emotion_trained=True)).eval()


def test_range_past_the_audio_end_is_named_when_sampling():
    model = _emotion_model()
    source = SourceFeatures(torch.zeros(1, 1), torch.zeros(1, 21, 3), torch.zeros(1, 70))
    audio = AudioFeatures(torch.randn(1, 20, 8), 25.0, 20, 0.8, "synthetic")
    late = build_emotion("happy", 1.5, "none", 0.5, "0 0.5 sad\n0.8 2 angry")
    with pytest.raises(ValueError, match=r"line 2 \('0.8 2 angry'\) starts at 0.8 s but the audio lasts only 0.8 s"):
        generate_motion(model, source, audio, steps=2, emotion=late)
    # a range that starts inside the audio and ends after it is fine: it is trimmed
    ok = build_emotion("happy", 1.5, "none", 0.5, "0 0.4 sad\n0.4 9 angry")
    assert generate_motion(model, source, audio, steps=2, emotion=ok).motion.shape == (1, 20, 70)
