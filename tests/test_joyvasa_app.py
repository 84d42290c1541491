"""The motion modes against the official JoyVASA pipeline (tests/fixtures/joyvasa_app, reduced from
shared/fixtures/joyvasa_app: its README describes every stage).

From the stored generated motion (motion.coef, de-normalised here with the stored template), every
keypoint stage of the app, cli and animal modes must match per frame at rel L2 < 1e-5 (the fixture's
bar; its cheapest mistake moves x_d by 3e-5). The slow test runs the whole path from the stored
256x256 crop with the stand-in LivePortrait weights: source, keypoints, the rendered frame 114
(every second pixel stored; animal in float16) and the app's paste-back into the photo.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open
from safetensors.torch import load_file

from conftest import fixture_path
from lp_weights import golden_official_states, write_kijai_layout
from playmate_core.face.crop import CropConfig
from playmate_core.face.landmarks import FACEMESH_LAYOUT
from playmate_core.face.portrait import Portrait
from playmate_core.implicit.keypoints import keypoints_from_motion
from playmate_core.implicit.motion_vector import pack_motion
from playmate_core.implicit.renderer import load_renderer
from playmate_core.implicit.source import SourceFeatures
from playmate_core.motion.normalization import TemplateNormalizer
from playmate_core.motion.postprocess import ema_smooth
from playmate_core.motion.sequence import MotionSequence
from playmate_core.render import Compositor
from playmate_core.render.application import OFFICIAL_MODES, official_keypoints, posed_keypoints
from playmate_core.render.hull import convex_hull_volume, hull_motion_multiplier
from playmate_core.render.official_image import footprint, mask_template, warp_affine_u8

FIXTURES = Path(__file__).with_name("fixtures")
GOLDEN = FIXTURES / "joyvasa_app" / "golden_app.safetensors"
PHOTO = FIXTURES / "media" / "portraits" / "astronaut_512x512.png"
STAGES = {"app": ("posed", "relative", "stitched", "lip", "final"), "cli": ("posed", "final"),
          "animal": ("posed", "relative", "final")}
BAR = 1e-5


def rel_l2(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).norm() / b.double().norm())


def per_frame(a: torch.Tensor, b: torch.Tensor) -> float:
    return max(rel_l2(x, y) for x, y in zip(a, b))


@pytest.fixture(scope="module")
def golden():
    return load_file(GOLDEN)


@pytest.fixture(scope="module")
def lip_ratio():
    return float(np.float32(json.loads(safe_open(str(GOLDEN), "pt").metadata()["info"])["source_lip_ratio"]))


@pytest.fixture(scope="module")
def renderer(tmp_path_factory):
    """The stand-in (golden) LivePortrait weights, loaded from Kijai's layout."""
    folder = tmp_path_factory.mktemp("lp_golden")
    write_kijai_layout(golden_official_states(fixture_path("fixtures", "liveportrait")), folder)
    return load_renderer(str(folder))


def generated_motion(golden) -> torch.Tensor:
    """motion.coef de-normalised as the official wrapper does: [1, 115, 70]."""
    normalizer = TemplateNormalizer(golden["template.exp_mean"], golden["template.exp_std"],
                                    golden["template.pose_min"],
                                    golden["template.pose_max"])
    return normalizer.denormalize(golden["motion.coef"][None], None)


def stored_source(golden, lip_ratio=None) -> SourceFeatures:
    angles = torch.cat([golden["src.pitch"], golden["src.yaw"], golden["src.roll"]], dim=1)
    motion = pack_motion(golden["src.exp"], golden["src.scale"], golden["src.t"], angles)
    ratio = None if lip_ratio is None else torch.tensor([[lip_ratio]])
    return SourceFeatures(torch.zeros(1, 1), golden["src.kp"], motion, lip_ratio=ratio)


def joyvasa_sequence(generated: torch.Tensor, **extra) -> MotionSequence:
    return MotionSequence(generated, 25.0, generated=generated, family="joyvasa", **extra)


def test_hull_volume_of_known_solids():
    box = torch.tensor([[x, y, z] for x in (0.0, 1.0) for y in (0.0, 2.0) for z in (0.0, 3.0)])
    inner = torch.tensor([[0.5, 1.0, 1.5], [0.5, 0.0, 1.5], [1.0, 1.0, 1.0]])  # inside and on faces: no volume
    assert convex_hull_volume(torch.cat([box, inner])) == pytest.approx(6.0, rel=1e-12)
    tetra = torch.tensor([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
    assert convex_hull_volume(tetra) == pytest.approx(1 / 6, rel=1e-12)
    g = torch.Generator().manual_seed(0)
    rotation = torch.linalg.qr(torch.randn(3, 3, generator=g, dtype=torch.float64))[0]
    assert convex_hull_volume(torch.cat([box, inner]).double() @ rotation.T + 5) == pytest.approx(6.0, rel=1e-9)
    assert convex_hull_volume(torch.rand(21, 2, generator=g).double() @ torch.randn(2, 3, generator=g).double()) == 0.0


def test_hull_multiplier_matches_scipy_values_of_the_official_run(golden):
    for mode in ("app", "animal"):
        m = hull_motion_multiplier(golden["x_s"][0], golden[f"{mode}.x_d.posed"][0])
        assert abs(m - float(golden[f"{mode}.motion_multiplier"])) < 1e-12


def test_ema_pose_smoothing_matches_the_official_filter(golden):
    pose = ema_smooth(generated_motion(golden)[0, :, 63:], 0.01)
    stored = torch.cat([golden[f"motion.smooth.{k}"] for k in ("scale", "t", "pitch", "yaw", "roll")], dim=1)
    # element-wise float32 arithmetic in the official order (no BLAS): the same bits on any x86 CPU
    assert torch.equal(pose, stored)


@pytest.mark.parametrize("mode", ["app", "cli", "animal"])
def test_keypoint_stages_match_the_official_pipeline(golden, renderer, lip_ratio, mode):
    """From the stored source info and generated motion, every stage per frame at rel L2 < 1e-5."""
    stages = {}
    x_s, x_d = official_keypoints(renderer, stored_source(golden, lip_ratio), 0,
                                  joyvasa_sequence(generated_motion(golden)),
                                  0, mode, stages)
    assert rel_l2(x_s, golden["x_s"]) < BAR
    for stage in STAGES[mode]:
        error = per_frame(stages[stage], golden[f"{mode}.x_d.{stage}"])
        assert error < BAR, f"{mode} x_d.{stage}: rel L2 {error:.2e}"
    if "relative" in STAGES[mode]:
        assert abs(stages["multiplier"] - float(golden[f"{mode}.motion_multiplier"])) < 1e-6
        assert torch.equal(stages["relative"][0], x_s[0])  # frame 0 is the source exactly
    if mode == "app":
        assert rel_l2(stages["lip_delta"], golden["lip.delta"]) < BAR
    assert set(stages) & {"stitched", "lip"} == ({"stitched", "lip"} if mode == "app" else set())


def test_lip_normalisation_needs_a_lip_ratio_of_at_least_0_03(golden, renderer):
    generated = generated_motion(golden)
    for ratio, applied in ((0.0299, False), (0.03, True), (None, False)):
        stages = {}
        official_keypoints(renderer, stored_source(golden, ratio), 0, joyvasa_sequence(generated), 0, "app", stages)
        assert ("lip_delta" in stages) == applied, ratio


@dataclass(frozen=True)
class OffsetSequence(MotionSequence):
    """MotionSequence with the emotion path's expression_offset field (added by that branch)."""

    expression_offset: torch.Tensor | None = None


@pytest.mark.parametrize("mode", ["app", "cli", "animal"])
def test_expression_offset_is_added_after_the_relative_step_and_before_stitching(golden, renderer, lip_ratio, mode):
    generated = generated_motion(golden)
    source = stored_source(golden, lip_ratio)
    offset = 0.01 * torch.randn(1, generated.shape[1], 63, generator=torch.Generator().manual_seed(1))
    plain, with_offset = {}, {}
    official_keypoints(renderer, source, 0, joyvasa_sequence(generated), 0, mode, plain)
    official_keypoints(renderer, source, 0, OffsetSequence(generated, 25.0, generated=generated, family="joyvasa",
                                                           expression_offset=offset), 0, mode, with_offset)
    _, scale = posed_keypoints(source, 0, generated[0], OFFICIAL_MODES[mode])
    before = plain["relative" if mode != "cli" else "posed"]
    expected = before + scale[:, :, None] * offset[0].view(-1, 21, 3)
    assert torch.allclose(with_offset["offset"], expected, atol=1e-7)
    x_s = keypoints_from_motion(source.kp_canonical, source.motion)
    if mode == "app":
        expected = renderer.stitch(x_s.expand(expected.shape[0], -1, -1), expected) + plain["lip_delta"]
    expected = x_s + (expected - x_s) * OFFICIAL_MODES[mode].multiplier
    assert torch.allclose(with_offset["final"], expected, atol=1e-6)
    assert rel_l2(with_offset["final"], plain["final"]) > 1e-3  # the offset did something


def test_driving_pose_replaces_the_smoothed_pose_relative_to_its_first_frame(golden):
    """With a driving pose whose first frame is the source pose, frame i is posed as the driving pose
    (all keypoints relative, source scale: the animal settings isolate the pose)."""
    source = stored_source(golden)
    generated = generated_motion(golden)[0]
    n = generated.shape[0]
    src = source.motion[0]
    pose = torch.cat([src[67:70], src[64:67]])[None].repeat(n, 1)
    pose[:, 1] += torch.linspace(0, 20, n)  # yaw from the source's to +20 degrees
    pose[:, 3] += torch.linspace(0, 0.05, n)
    posed, _ = posed_keypoints(source, 0, generated, OFFICIAL_MODES["animal"], pose)
    steady = generated.clone()
    steady[:, :63] = generated[:1, :63]  # constant generated expression: only the pose moves
    posed_steady, _ = posed_keypoints(source, 0, steady, OFFICIAL_MODES["animal"], pose)
    expected_motion = src[None].repeat(n, 1)
    expected_motion[:, 67:70], expected_motion[:, 64:67] = pose[:, :3], pose[:, 3:]
    expected = keypoints_from_motion(source.kp_canonical.expand(n, -1, -1), expected_motion)
    assert torch.allclose(posed_steady, expected, atol=2e-6)
    scrambled = generated.clone()
    scrambled[:, 64:70] = torch.randn(n, 6, generator=torch.Generator().manual_seed(2))
    assert torch.equal(posed_keypoints(source, 0, scrambled, OFFICIAL_MODES["animal"], pose)[0], posed)


def test_the_warped_mask_template_is_the_official_one(golden):
    x0, y0, x1, y1 = golden["app.paste.region"].tolist()
    assert (x0, y0, x1, y1) == footprint(golden["crop.M_c2o"].double(), 512, 512, 512)
    mask = warp_affine_u8(mask_template()[..., None], golden["crop.M_c2o"].double(), 512, 512, (x0, y0, x1, y1))[..., 0]
    assert torch.equal(mask[y0:y1, x0:x1], golden["app.paste.mask_u8"])
    assert int(mask.sum()) == int(golden["app.paste.mask_u8"].long().sum())  # nothing outside the footprint


def photo_u8() -> torch.Tensor:
    return torch.from_numpy(np.array(Image.open(PHOTO).convert("RGB")))


def official_crop(photo: torch.Tensor, photo_to_crop: torch.Tensor, size: int = 512) -> torch.Tensor:
    """The official network input, rebuilt: photo [H, W, 3] uint8, M_o2c [3, 3] -> [1, 3, size / 2, size / 2]
    float32 = (uint8 warp, then INTER_AREA's 2x2 mean rounded half up) / 255. Not the pack's crop path (Load
    Portrait crops in float): this measures how close an official-style crop gets."""
    crop = warp_affine_u8(photo, photo_to_crop, size, size).long()
    blocks = crop[0::2, 0::2] + crop[1::2, 0::2] + crop[0::2, 1::2] + crop[1::2, 1::2]
    return ((blocks + 2) >> 2).permute(2, 0, 1)[None].float() / 255


def test_official_crop_from_the_photo_and_matrix(golden, renderer):
    """uint8 warp + INTER_AREA's round-half-up 2x2 mean: a handful of values 1 level off OpenCV's, source
    keypoints within the bar (the pack's float crop moves them by ~1e-3, the fixture README's pitfall 2)."""
    crop = official_crop(photo_u8(), golden["crop.M_o2c"].double())
    levels = ((crop - golden["crop.img256"].float() / 255) * 255).round().abs()
    assert float(levels.max()) <= 1 and int((levels > 0).sum()) <= 20
    kp, motion = renderer.extract_motion(crop)
    assert rel_l2(kp, golden["src.kp"]) < BAR and rel_l2(motion[:, :63].view(1, 21, 3), golden["src.exp"]) < BAR


@pytest.mark.slow
def test_end_to_end_from_the_crop(golden, renderer, lip_ratio):
    """Crop -> source -> keypoints (every mode) -> frame 114 -> (app) pasted photo, against the official run."""
    crop = golden["crop.img256"].float() / 255
    extracted = renderer.extract_source(crop)
    source = SourceFeatures(extracted.appearance, extracted.kp_canonical, extracted.motion,
                            lip_ratio=torch.tensor([[lip_ratio]]))
    assert rel_l2(source.kp_canonical, golden["src.kp"]) < BAR and rel_l2(source.motion[:, :63].view(1, 21, 3),
                                                                          golden["src.exp"]) < BAR
    sequence = joyvasa_sequence(generated_motion(golden))
    for mode in ("app", "cli", "animal"):
        stages = {}
        x_s, x_d = official_keypoints(renderer, source, 0, sequence, 0, mode, stages)
        for stage in STAGES[mode]:
            error = per_frame(stages[stage], golden[f"{mode}.x_d.{stage}"])
            assert error < BAR, f"{mode} x_d.{stage}: rel L2 {error:.2e}"
        frame = renderer.render(source.appearance, x_s, x_d[114:115])
        stored = golden[f"{mode}.frame114.strided"]
        mine = frame[0, :, ::2, ::2]
        if stored.dtype == torch.float16:  # the fixture README's rule: round to float16, max 1 ulp on < 2 %
            ulps = (mine.half().view(torch.int16).int() - stored.view(torch.int16).int()).abs()
            assert int(ulps.max()) <= 1 and float((ulps > 0).float().mean()) < 0.02, mode
        else:
            assert rel_l2(mine, stored) < BAR and float((mine - stored).abs().max()) < 1e-4, mode
        if mode == "app":
            check_paste_back(golden, frame)


def check_paste_back(golden, frame: torch.Tensor) -> None:
    """The app's pasted photo through the template compositor, within uint8 truncation flips."""
    photo = photo_u8()
    m_o2c = golden["crop.M_o2c"].double()
    portrait = Portrait(images=photo[None].float() / 255, crops=golden["crop.img256"].float() / 255,
                        image_to_crop=m_o2c[None], landmarks=torch.zeros(1, 478, 3),
                        landmarks_crop=torch.zeros(1, 478, 2),
                        boxes=torch.zeros(1, 4), scores=torch.ones(1), face_counts=(1,), eye_ratio=torch.zeros(1, 2),
                        lip_ratio=torch.zeros(1, 1), layout=FACEMESH_LAYOUT, config=CropConfig())
    pasted = Compositor(portrait, style="template")(0, frame)[0]
    pasted_u8 = (pasted * 255).round().to(torch.uint8)
    x0, y0, x1, y1 = golden["app.paste.region"].tolist()
    outside = torch.ones(512, 512, dtype=torch.bool)
    outside[y0:y1, x0:x1] = False
    assert torch.equal(pasted_u8[outside], photo[outside])
    diff = (pasted_u8[y0:y1, x0:x1].int() - golden["app.frame114.pasted"].int()).abs()
    assert int(diff.max()) <= 1 and float((diff > 0).float().mean()) < 1e-3
