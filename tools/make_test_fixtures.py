"""Rebuild tests/fixtures/ from the full fixture set (the maintainers' shared/ folder) by the documented reductions.

    python tools/make_test_fixtures.py /path/to/shared

What each reduction is and why it keeps the comparison's strength: tests/fixtures/README.md. Golden tensors are
copied bit for bit (whole, or a strided / sliced part recorded in the file's metadata under "samples");
inputs that can be re-derived bit-exactly from other fixture files are dropped.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import wave
from pathlib import Path

import av
import numpy as np
import torch
from safetensors.torch import load_file, save_file

OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures"

# LivePortrait golden: {key: (stride, dims)} = x[..., ::stride, ...] on those dims of the stored tensor. Strides 3 and 7
# divide 63 and 7 divides 511, so samples of the 64- and 512-pixel grids hold the first and last rows and columns.
LIVEPORTRAIT_SAMPLES = {
    "appearance.f_s": (7, (3, 4)),
    "appearance.second_s4": (3, (2, 3)),
    "warp.deformation": (3, (2, 3)),
    "e2e.deformation": (3, (2, 3)),
    "warp.out": (7, (2, 3)),
    "e2e.warp_out": (7, (2, 3)),
    "warp.mask_s2": (3, (3, 4)),
    "warp.hourglass_s8": (3, (2,)),
    "warp.third_s4": (3, (2, 3)),
    "spade.out": (7, (2, 3)),
    "e2e.image": (7, (2, 3)),
}
# re-derived in the tests from media/portraits/astronaut_512x512.png (checked bit-equal here)
LIVEPORTRAIT_DERIVED = ("input.source_image", "input.driving_image")

# JoyVASA small golden: the tensors the tests read; {key: rows kept along dim 0}
JOYVASA_SMALL_KEYS = (
    "in.audio_16k", "audio_feat.w0", "audio_feat.w1", "dn.in.motion", "dn.in.step", "dn.in.prev_motion_b1",
    "dn.in.prev_audio_b1", "dn.step_embedding", "dn.buggy.out", "dn.fixed.out", "gen.buggy.w0.dn_out_t50",
    "gen.buggy.w0.dn_out_t1", "gen.buggy.w0.x0", "gen.buggy.w1.x0", "gen.buggy.coef", "hubert.w0.resampled",
    "hubert.w1.resampled", "hubert.w0.conv_features", "hubert.w0.last_hidden_state", "noise.xT", "noise.z.w0",
    "noise.z.w1",
) + tuple(f"gen.buggy.{kind}.{name}" for kind, names in (("motion", ("exp", "scale", "t", "pitch", "yaw", "roll", "R")),
                                                          ("smoothed", ("scale", "t", "pitch", "yaw", "roll", "R")))
          for name in names) + tuple(f"sched.{name}" for name in ("betas", "alphas", "alpha_bars", "sigmas_flex",
                                                                    "sigmas_inflex"))
JOYVASA_SMALL_ROWS = {"gen.buggy.w0.traj_x50_to_x1": [0, 1, 49]}
# JoyVASA full golden: only the motion-application tensors (independent of the HuBERT size)
JOYVASA_FULL_PREFIXES = ("gen.buggy.motion.", "gen.buggy.smoothed.", "src.", "apply.")

SPEECH_CUT_SAMPLES = 44400  # 2.014 s of the 22.05 kHz clip: a length that is no whole number of frames


def write_safetensors(tensors: dict, path: Path, metadata: dict) -> None:
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path),
              metadata={k: json.dumps(v) for k, v in metadata.items()})
    print(f"{path.relative_to(OUT)}: {path.stat().st_size / 1e6:.2f} MB, {len(tensors)} tensors")


def strided(tensor: torch.Tensor, stride: int, dims) -> torch.Tensor:
    index = [slice(None)] * tensor.ndim
    for dim in dims:
        index[dim] = slice(None, None, stride)
    return tensor[tuple(index)]


def reduce_liveportrait(shared: Path) -> None:
    golden = load_file(str(shared / "fixtures/liveportrait/golden.safetensors"))
    reduced = {k: strided(v, *LIVEPORTRAIT_SAMPLES[k]) if k in LIVEPORTRAIT_SAMPLES else v
               for k, v in golden.items() if k not in LIVEPORTRAIT_DERIVED}
    samples = {k: [stride, list(dims)] for k, (stride, dims) in LIVEPORTRAIT_SAMPLES.items()}
    write_safetensors(reduced, OUT / "liveportrait/golden.safetensors",
                      {"samples": samples, "derived": list(LIVEPORTRAIT_DERIVED)})
    manifest = json.loads((shared / "fixtures/liveportrait/manifest.json").read_text())
    keep = ("class", "params", "namespace", "role", "entries")
    files = {}
    for name, spec in manifest["files"].items():
        files[name] = {k: v for k, v in spec.items() if k in keep}
        if "subnetworks" in spec:
            files[name]["subnetworks"] = {o: {k: v for k, v in d.items() if k in keep}
                                          for o, d in spec["subnetworks"].items()}
    slim = {"official_repo": manifest["official_repo"], "official_commit": manifest["official_commit"], "files": files}
    (OUT / "liveportrait/manifest.json").write_text(json.dumps(slim, separators=(",", ":")) + "\n")


def reduce_joyvasa(shared: Path) -> None:
    small = load_file(str(shared / "fixtures/joyvasa/golden_small.safetensors"))
    reduced = {k: small[k] for k in JOYVASA_SMALL_KEYS}
    reduced.update({k: small[k][rows] for k, rows in JOYVASA_SMALL_ROWS.items()})
    write_safetensors(reduced, OUT / "joyvasa/golden_small.safetensors", {"rows": JOYVASA_SMALL_ROWS})
    full = load_file(str(shared / "fixtures/joyvasa/golden.safetensors"))
    write_safetensors({k: v for k, v in full.items() if k.startswith(JOYVASA_FULL_PREFIXES)},
                      OUT / "joyvasa/golden.safetensors", {})
    shutil.copyfile(shared / "fixtures/joyvasa/motion_template.pkl", OUT / "joyvasa/motion_template.pkl")
    manifest = json.loads((shared / "fixtures/joyvasa/manifest.json").read_text())
    slim = {"source": manifest["source"]["repo"] + "@" + manifest["source"]["commit"], "args": manifest["args"],
            "hubert_config": manifest["hubert_config"], "state_dict_entries": manifest["state_dict"]["entries"]}
    (OUT / "joyvasa/manifest.json").write_text(json.dumps(slim, separators=(",", ":")) + "\n")


def decode_pcm(path: Path) -> tuple[np.ndarray, int]:
    """(channels, samples) int16 and the rate of a PCM file."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        channels = stream.channels
        chunks = [frame.to_ndarray() if frame.format.is_planar else frame.to_ndarray().reshape(-1, channels).T
                  for frame in container.decode(stream)]
        return np.concatenate(chunks, axis=1).astype(np.int16), stream.rate


def encode_audio(samples: np.ndarray, rate: int, path: Path, codec: str, **options) -> None:
    """(channels, samples) int16 -> one file with ``codec`` (flac / libmp3lame)."""
    layout = "mono" if samples.shape[0] == 1 else "stereo"
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate, layout=layout, **options)
        planar = codec == "libmp3lame"
        frame = av.AudioFrame.from_ndarray(samples if planar else samples.T.reshape(1, -1).copy(),
                                           format="s16p" if planar else "s16", layout=layout)
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def reduce_media(shared: Path) -> None:
    for name in ("astronaut_512x512.png", "grace_hopper_512x600.png", "noface_rocket_640x427.png", "LICENSES.md"):
        shutil.copyfile(shared / "media/portraits" / name, OUT / "media/portraits" / name)
    for name in ("driving_astronaut_3s_25fps_512.mp4", "driving_astronaut_3s_25fps_512.json"):
        shutil.copyfile(shared / "media/video" / name, OUT / "media/video" / name)
    audio = shared / "media/audio"
    shutil.copyfile(audio / "en_3s_22k_mono.wav", OUT / "media/audio/en_3s_22k_mono.wav")
    mono, rate = decode_pcm(audio / "en_10s_22k_mono.wav")
    cut = mono[:, :SPEECH_CUT_SAMPLES]
    with wave.open(str(OUT / "media/audio/en_2s_22k_mono.wav"), "wb") as out:  # the plain 44-byte header
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(cut[0].astype("<i2").tobytes())
    encode_audio(cut, rate, OUT / "media/audio/en_2s_22k_mono.flac", "flac")
    encode_audio(cut, rate, OUT / "media/audio/en_2s_22k_mono.mp3", "libmp3lame", bit_rate=64000)
    stereo, stereo_rate = decode_pcm(audio / "en_10s_44k1_stereo.wav")
    encode_audio(stereo[:, :SPEECH_CUT_SAMPLES * 2], stereo_rate, OUT / "media/audio/en_2s_44k1_stereo.flac", "flac")
    narrow, narrow_rate = decode_pcm(audio / "en_10s_8k_mono.wav")
    encode_audio(narrow[:, : SPEECH_CUT_SAMPLES * 8000 // 22050], narrow_rate, OUT / "media/audio/en_2s_8k_mono.flac",
                 "flac")
    silence, silence_rate = decode_pcm(audio / "silence_3s_16k_mono.wav")
    encode_audio(silence, silence_rate, OUT / "media/audio/silence_3s_16k_mono.flac", "flac")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("shared", type=Path, help="the folder holding fixtures/ and media/ in full")
    args = parser.parse_args()
    for sub in ("liveportrait", "joyvasa", "media/portraits", "media/audio", "media/video"):
        (OUT / sub).mkdir(parents=True, exist_ok=True)
    reduce_liveportrait(args.shared)
    reduce_joyvasa(args.shared)
    reduce_media(args.shared)
    return 0


if __name__ == "__main__":
    sys.exit(main())
