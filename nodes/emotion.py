"""The Emotion node: a label (or blend) and its guidance scale, optionally scheduled over time ranges."""

from __future__ import annotations

from playmate_core.motion.emotion_schedule import USER_LABELS, build_emotion


class PlaymateEmotion:
    DESCRIPTION = ("Emotion for the Motion Sampler (needs a Playmate motion model trained with emotion control): a label, "
                   "optionally blended with a second one, and its guidance scale w_e. A schedule sets other labels for "
                   "time ranges in seconds, one per line: '0 2.5 happy', '2.5-4: sad', '4, 6, happy+sad@0.3'.")
    CATEGORY = "Playmate/motion"
    FUNCTION = "build"
    RETURN_TYPES = ("PLAYMATE_EMOTION",)
    RETURN_NAMES = ("emotion",)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "label": (list(USER_LABELS), {"default": "happy", "tooltip": "The emotion of the whole clip (outside the schedule's ranges)."}),
            "emotion_scale": ("FLOAT", {"default": 1.5, "min": 0.0, "max": 10.0, "step": 0.05, "tooltip": "Emotion guidance w_e (replaces the sampler's emotion_cfg): 0 = no emotion effect, 1 = plain conditional, higher = stronger expression at some cost to lip sync. The paper uses 1.5."}),
            "blend_with": (["none", *USER_LABELS], {"default": "none", "tooltip": "A second emotion mixed into the label; none = the label alone."}),
            "blend_amount": ("FLOAT", {"default": 0.5, "min": 0.0, "max": 1.0, "step": 0.05, "tooltip": "Share of blend_with: (1 - amount) * label + amount * blend_with. Ignored when blend_with is none."}),
            "schedule": ("STRING", {"default": "", "multiline": True, "tooltip": "Optional: one range per line '<start_s> <end_s> <label>' (or 'start-end: label'; '#' comments). A label may be a blend 'happy+sad@0.3'. Times outside every range use the label above."}),
        }}

    def build(self, label, emotion_scale, blend_with, blend_amount, schedule):
        return (build_emotion(label, float(emotion_scale), blend_with, float(blend_amount), schedule),)


NODE_CLASS_MAPPINGS = {"PlaymateEmotion": PlaymateEmotion}
NODE_DISPLAY_NAME_MAPPINGS = {"PlaymateEmotion": "Emotion (Playmate)"}
