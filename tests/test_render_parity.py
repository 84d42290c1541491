"""The golden end-to-end LivePortrait frame, through the public node path.

Golden-weight renderer files in Kijai's layout go into the models folder, Load LivePortrait
loads them, and Render Frames (stitching on, eye and lip retargeting on with the fixture's
targets) renders the fixture's driving motion. The frame must equal `e2e.image` at the fixture's
tolerance (rel L2 < 1e-5, max abs < 1e-4), on the strided sample the golden file keeps.
"""

from __future__ import annotations

import pytest
from golden_fixtures import liveportrait_golden, sampled
from lp_weights import golden_official_states, write_kijai_layout
from playmate_core.implicit.checkpoints import NETWORKS
from playmate_core.implicit.source import SourceFeatures
from playmate_core.motion.sequence import MotionSequence

pytestmark = pytest.mark.slow


def test_render_frames_node_reproduces_the_golden_frame(pack, models_dir):
    golden = liveportrait_golden()
    write_kijai_layout(golden_official_states(), models_dir / "liveportrait")
    loader = pack.NODE_CLASS_MAPPINGS["PlaymateLoadLivePortrait"]()
    files = {name: f"{name}.safetensors" for name in NETWORKS}
    (renderer,) = loader.load(**files, precision="fp32", device="cpu", channels_last=False)

    extracted = renderer.extract_source(golden["input.source_image"])
    eye, lip = golden["input.eye_ratio"], golden["input.lip_ratio"]  # [c_s left, c_s right, c_d], [c_s, c_d]
    source = SourceFeatures(extracted.appearance, extracted.kp_canonical, extracted.motion,
                            eye_ratio=eye[:, :2], lip_ratio=lip[:, :1])
    driving = source.motion.clone()
    driving[:, 67:70] += golden["input.pose_delta_deg"]
    driving[:, :63] += golden["input.exp_delta"].reshape(1, 63)

    node = pack.NODE_CLASS_MAPPINGS["PlaymateRenderFrames"]()
    images, _, _, count = node.render(
        renderer, source, MotionSequence(driving[:, None], 25.0), batch_size=1, stitching=True,
        eye_retargeting=True, eye_open=float(eye[0, 2]), lip_retargeting=True, lip_open=float(lip[0, 1]),
        paste_back=False, feather=0.1,
    )
    assert count == 1 and images.shape == (1, 512, 512, 3)
    images = sampled("e2e.image", images.permute(0, 3, 1, 2))  # the elements the golden file keeps
    expected = golden["e2e.image"]
    assert images.shape == expected.shape
    rel_l2 = float((images - expected).norm() / expected.norm())
    max_abs = float((images - expected).abs().max())
    assert rel_l2 < 1e-5 and max_abs < 1e-4, f"rel L2 {rel_l2:.2e}, max abs {max_abs:.2e}"
