"""The Emotion node: a label (or blend) and its strength, optionally scheduled over time ranges, and optionally
reference photos whose expression is added to the motion (no trained controller needed)."""

from __future__ import annotations

from playmate_core.motion.emotion_schedule import USER_LABELS, build_emotion
from playmate_core.motion.expression_reference import reference_expressions

from .portrait import _detector
from .spec import choice, link, mappings, node, real, text


@node(
    display="Emotion (Playmate)", category="Playmate/motion", function="build",
    required={
        "label": choice(USER_LABELS, "neutral", (
            "The emotion of the whole clip (outside the schedule's ranges), for a trained emotion "
            "controller. Keep neutral with JoyVASA (reference photos carry the emotion there).")),
        "emotion_scale": real(1.5, 0.0, 10.0, 0.05, (
            "The emotion strength (it overrides the sampler's emotion_cfg): 0 = no emotion. Trained controller: "
            "guidance w_e, 1 = plain conditional, higher = stronger expression at some cost to lip sync (the paper "
            "uses 1.5). Reference photos: multiplier of their expression offset, 1 = the reference's expression.")),
        "blend_with": choice(["none", *USER_LABELS], "none",
                             "A second emotion mixed into the label; none = the label alone."),
        "blend_amount": real(0.5, 0.0, 1.0, 0.05, (
            "Share of blend_with: (1 - amount) * label + amount * blend_with. Ignored when blend_with is none.")),
        "schedule": text("", (
            "Optional: one range per line '<start_s> <end_s> <label>' (or 'start-end: label'; "
            "'#' comments). A label may be a blend 'happy+sad@0.3', a reference photo 'ref2' "
            "or 'ref1+neutral@0.5'. Times outside every range use the label above (and ref1)."), multiline=True),
    },
    optional={
        "renderer": link("PLAYMATE_RENDERER", (
            "The LivePortrait networks (Load LivePortrait): needed with "
            "'reference', its motion extractor reads the references' expressions.")),
        "reference": link("IMAGE", (
            "Photo(s) of a face showing the wanted expression (any person; the same person as "
            "the portrait transfers best). A batch gives ref1, ref2, ... for the schedule; "
            "ref1 applies outside its ranges. The largest face of each photo is used.")),
        "lip_weight": real(0.0, 0.0, 1.0, 0.05, (
            "Share of the reference expression on the lip keypoints: 0 = the lips follow "
            "only the speech (keep lips), 1 = the reference's mouth shape is added too.")),
    },
    outputs={"emotion": "PLAYMATE_EMOTION"},
)
class PlaymateEmotion:
    """Emotion for the Motion Sampler. Labels need a Playmate motion model trained with emotion control: a label,
    optionally blended with a second one. Reference photos work with every motion model (JoyVASA too): connect a face
    showing the wanted expression to 'reference' and the renderer; the face takes that expression while the lips keep
    following the speech. A schedule sets other labels or references (ref1, ref2, ...) for time ranges in seconds,
    one per line: '0 2.5 happy', '2.5-4: ref2', '4, 6, ref1+neutral@0.5'. emotion_scale is the one emotion strength."""
    def build(self, label, emotion_scale, blend_with, blend_amount, schedule, renderer=None, reference=None,
              lip_weight=0.0):
        references = None
        if reference is not None:
            if renderer is None:
                raise ValueError("the Emotion node's 'reference' input needs its 'renderer' input connected (Load "
                                 "LivePortrait): its motion extractor reads the reference photos' expressions")
            references = reference_expressions(renderer, reference, _detector("auto"),
                                               "the Emotion node's 'reference'")
        return (build_emotion(label, float(emotion_scale), blend_with, float(blend_amount), schedule, references,
                              float(lip_weight)),)


NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS = mappings(PlaymateEmotion)
