"""Renderer speed and memory: warp + decode per frame, motion / appearance extraction per image,
and the chunked end-to-end path (motion -> keypoints -> stitching -> warp -> decode -> MP4 or IMAGE).

Full-size LivePortrait networks (random weights: speed does not depend on the values). Each
configuration runs in a fresh subprocess so its peak RSS is its own. Prints a table.

    python benchmarks/render_bench.py                  # CPU: fp32, bf16, bf16 + channels-last
    python benchmarks/render_bench.py --device cuda    # GPU: fp32, fp16, bf16 (+ channels-last)
    python benchmarks/render_bench.py --batches 1 4 8 --repeat 2
    python benchmarks/render_bench.py --e2e --config tiny --seconds 10 60 --fps 10   # memory vs duration
    python benchmarks/render_bench.py --e2e --config official --precisions bf16+cl --seconds 1
    python benchmarks/render_bench.py --precisions fp32 fp32+compile --batches 1   # torch.compile variants
    python benchmarks/render_bench.py --compare-compile --batches 1 --repeat 3     # eager vs compiled, interleaved
    python benchmarks/render_bench.py --compare-parts --batches 1 --repeat 3       # warp and decoder separately

"+compile" rows compile warp + decode first and report that time separately (compile_s: the first call
of the batch size, which compiles and runs once). --compare-compile runs eager and compiled renders of
the same renderer alternately (the machine may be shared) and prints their medians and the speed-up.

End-to-end rows: frames per second of the whole path, the RSS peak before rendering (networks,
source, audio) and how much rendering added to it. "video" streams to an MP4 (Render Video);
"frames" keeps every frame (Render Frames: about 3 MB per 512x512 frame).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def _sync(device):
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def _timed(fn, device, repeat):
    fn()  # warm-up (allocator, kernel selection)
    _sync(device)
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    _sync(device)
    return (time.perf_counter() - start) / repeat


def _full_size_renderer(device, dtype, channels_last):
    import torch

    from playmate_core.implicit.config import RendererConfig
    from playmate_core.implicit.renderer import LivePortraitRenderer, build_networks

    torch.manual_seed(0)
    cfg = RendererConfig.official()
    return LivePortraitRenderer(build_networks(cfg), cfg, dtype=dtype, channels_last=channels_last).to(device)


def _render_inputs(renderer, batch, device):
    import torch

    crops = torch.rand(batch, 3, 256, 256, device=device)
    source = renderer.extract_source(crops)
    x_s = source.keypoints()
    return crops, source, x_s, renderer.stitch(x_s, x_s + 0.01 * torch.randn_like(x_s))


def _compile(renderer, device, fn) -> float:
    """Compile warp + decode; seconds of the first (compiling) call."""
    reason = renderer.compile(device)
    if reason is not None:
        raise SystemExit(f"torch.compile is unavailable: {reason}")
    start = time.perf_counter()
    fn()
    _sync(device)
    if not renderer.is_compiled:
        raise SystemExit("torch.compile failed (see the warning above)")
    return time.perf_counter() - start


def run_compare_compile(device_name: str, precision: str, batch: int, repeat: int) -> dict:
    """Eager and compiled warp + decode of one renderer, alternating; medians per frame."""
    import statistics

    import torch

    device = torch.device(device_name)
    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]
    renderer = _full_size_renderer(device, dtype, False)
    _, source, x_s, x_d = _render_inputs(renderer, batch, device)
    eager_fn = renderer.warp_decode
    inputs = (source.appearance, x_s, x_d)

    def render():
        return renderer.render(*inputs)

    eager_out = render()
    compile_s = _compile(renderer, device, render)
    compiled_out = render()
    compiled, eager = [], []
    for _ in range(repeat):
        for times, run in ((eager, lambda: eager_fn(*inputs)), (compiled, render)):
            start = time.perf_counter()
            with torch.inference_mode():
                run()
            _sync(device)
            times.append((time.perf_counter() - start) / batch)
    return {
        "device": device_name, "precision": precision, "batch": batch, "repeat": repeat, "compile_s": compile_s,
        "eager_s_per_frame": statistics.median(eager), "compiled_s_per_frame": statistics.median(compiled),
        "eager_runs": eager, "compiled_runs": compiled,
        "rel_l2": float((compiled_out.float() - eager_out.float()).norm() / eager_out.float().norm()),
        "threads": torch.get_num_threads(), "load_average": os.getloadavg(),
    }


def run_compare_parts(device_name: str, precision: str, batch: int, repeat: int) -> dict:
    """Warp and decoder each compiled whole (the renderer's CUDA choice) vs eager, alternating; medians.
    Why the CPU path compiles the decoder only."""
    import statistics

    import torch

    from playmate_core.implicit.compiled import compile_kwargs

    device = torch.device(device_name)
    renderer = _full_size_renderer(device, {"fp32": torch.float32, "fp16": torch.float16}[precision], False)
    _, source, x_s, x_d = _render_inputs(renderer, batch, device)
    row = {"device": device_name, "precision": precision, "batch": batch, "repeat": repeat,
           "load_average": os.getloadavg()}
    with torch.inference_mode():
        feature = renderer.warping(source.appearance, kp_source=x_s, kp_driving=x_d)["out"]
        parts = {"warp": (renderer.warping, (source.appearance,), {"kp_source": x_s, "kp_driving": x_d}),
                 "decoder": (renderer.decoder, (feature,), {})}
        for name, (module, args, kwargs) in parts.items():
            compiled = torch.compile(module, **compile_kwargs(device))
            start = time.perf_counter()
            compiled(*args, **kwargs)
            row[f"{name}_compile_s"] = time.perf_counter() - start
            times = {"eager": [], "compiled": []}
            for _ in range(repeat):
                for kind, fn in (("eager", module), ("compiled", compiled)):
                    start = time.perf_counter()
                    fn(*args, **kwargs)
                    _sync(device)
                    times[kind].append((time.perf_counter() - start) / batch)
            row[name] = {kind: statistics.median(v) for kind, v in times.items()}
    return row


def run_one(device_name: str, precision: str, channels_last: bool, batch: int, repeat: int,
            compile: bool = False) -> dict:
    import torch

    device = torch.device(device_name)
    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]
    renderer = _full_size_renderer(device, dtype, channels_last)
    crops, source, x_s, x_d = _render_inputs(renderer, batch, device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    compile_s = _compile(renderer, device, lambda: renderer.render(source.appearance, x_s, x_d)) if compile else None
    render = _timed(lambda: renderer.render(source.appearance, x_s, x_d), device, repeat)
    appearance = _timed(lambda: renderer.extract_appearance(crops), device, repeat)
    motion = _timed(lambda: renderer.extract_motion(crops), device, repeat)
    return {
        "device": device_name,
        "precision": precision + (" + channels_last" if channels_last else "") + (" + compile" if compile else ""),
        "batch": batch,
        "compile_s": compile_s,
        "render_s_per_frame": render / batch,
        "appearance_s_per_image": appearance / batch,
        "motion_s_per_image": motion / batch,
        "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "peak_gpu_gib": torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else None,
    }


def accuracy_vs_fp32(precision: str, channels_last: bool) -> float | None:
    """rel L2 of a full frame against float32, with the golden fixture's trained-like weights
    written in Kijai's layout and loaded through the public loader."""
    import tempfile
    from pathlib import Path

    import torch
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    from golden_fixtures import liveportrait_golden
    from lp_weights import golden_official_states, write_kijai_layout
    from playmate_core.implicit.renderer import load_renderer

    golden = liveportrait_golden()
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}[precision]
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_kijai_layout(golden_official_states(), Path(tmp))
        full = load_renderer(str(folder))
        with torch.inference_mode():
            inputs = (full.extract_appearance(golden["input.source_image"]), golden["derived.x_s"],
                      golden["e2e.x_d_final"])
        reference = full.render(*inputs)
        lowered = load_renderer(str(folder), dtype=dtype, channels_last=channels_last).render(*inputs)
    return float((lowered - reference).norm() / reference.norm())


def run_e2e(device_name: str, precision: str, channels_last: bool, config: str, seconds: float, fps: float,
            batch: int, output: str) -> dict:
    """One end-to-end render of `seconds` of motion (head turning and nodding) with audio."""
    import math
    import tempfile

    import torch

    from playmate_core.implicit.config import RendererConfig
    from playmate_core.implicit.renderer import LivePortraitRenderer, build_networks
    from playmate_core.motion.sequence import MotionSequence
    from playmate_core.render import Compositor, RenderOptions, render_images, render_video

    torch.manual_seed(0)
    device = torch.device(device_name)
    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]
    cfg = RendererConfig.tiny() if config == "tiny" else RendererConfig.official()
    renderer = LivePortraitRenderer(build_networks(cfg), cfg, dtype=dtype, channels_last=channels_last).to(device)
    source = renderer.extract_source(torch.rand(1, 3, 256, 256, device=device))
    n = max(1, round(seconds * fps))
    phase = torch.arange(n, dtype=torch.float32) / fps * 2 * math.pi
    motion = source.motion.cpu()[:, None].repeat(1, n, 1)
    motion[0, :, 67] += 10 * torch.sin(phase / 2)
    motion[0, :, 68] += 15 * torch.sin(phase / 3)
    rate = 16000
    audio = {"waveform": 0.3 * torch.sin(torch.arange(int(seconds * rate)) / rate * 2 * math.pi * 220)[None, None],
             "sample_rate": rate}
    options = RenderOptions(batch_size=batch)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        if output == "video":
            render_video(renderer, source, MotionSequence(motion, fps), options, Compositor(),
                         os.path.join(tmp, "b.mp4"),
                         audio=audio)
        else:
            render_images(renderer, source, MotionSequence(motion, fps), options, Compositor())
    _sync(device)
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return {
        "device": device_name, "precision": precision + (" + channels_last" if channels_last else ""), "config": config,
        "output": output, "batch": batch, "frames": n, "seconds": seconds, "fps": n / elapsed,
        "rss_before_gib": before, "peak_rss_gib": peak,
    }


def _format_e2e(row: dict) -> str:
    return (
        f"{row['device']:5s} | {row['config']:8s} | {row['precision']:22s} | {row['output']:6s} | batch "
        f"{row['batch']:2d} | {row['seconds']:5.1f} s = {row['frames']:5d} frames | {row['fps']:7.2f} "
        f"frames/s | RSS before {row['rss_before_gib']:.2f} GiB, peak {row['peak_rss_gib']:.2f} GiB "
        f"(+{(row['peak_rss_gib'] - row['rss_before_gib']) * 1024:.0f} MiB)"
    )


def main_e2e(args) -> None:
    default = ["fp32"] if args.device == "cpu" else ["fp16"]
    for spec in args.precisions or default:
        precision, cl = spec.split("+")[0], spec.endswith("+cl")
        for output in args.outputs:
            for seconds in args.seconds:
                cmd = [sys.executable, __file__, "--device", args.device, "--e2e-one",
                       f"{precision},{int(cl)},{args.config},{seconds},{args.fps},{args.batches[0]},{output}"]
                out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
                print(_format_e2e(json.loads(out.strip().splitlines()[-1])), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--precisions", nargs="+", default=None, help="e.g. fp32 bf16 bf16+cl")
    parser.add_argument("--accuracy", action="store_true", help="also measure frame accuracy vs fp32 (golden weights)")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--e2e", action="store_true", help="the chunked end-to-end path instead of per-network times")
    parser.add_argument("--config", default="tiny", choices=["tiny", "official"], help="end-to-end network size")
    parser.add_argument("--seconds", type=float, nargs="+", default=[10.0, 60.0], help="end-to-end clip lengths")
    parser.add_argument("--fps", type=float, default=25.0, help="end-to-end frame rate")
    parser.add_argument("--outputs", nargs="+", default=["video"], choices=["video", "frames"])
    parser.add_argument("--e2e-one", help=argparse.SUPPRESS)
    parser.add_argument("--compare-compile", action="store_true", help="eager vs compiled warp + decode, interleaved")
    parser.add_argument("--compare-parts", action="store_true", help="eager vs compiled, warp and decoder separately")
    args = parser.parse_args()
    if args.compare_parts:
        for batch in args.batches:
            row = run_compare_parts(args.device, args.precisions[0] if args.precisions else "fp32", batch,
                                    max(args.repeat, 1))
            for name in ("warp", "decoder"):
                print(f"{row['device']:5s} | {row['precision']:5s} | batch {batch:2d} | {name:7s} per frame: eager "
                      f"{row[name]['eager']:.2f} s, compiled {row[name]['compiled']:.2f} s = "
                      f"x{row[name]['eager'] / row[name]['compiled']:.2f} | compile {row[name + '_compile_s']:.0f} s | "
                      f"load average {', '.join(f'{x:.1f}' for x in row['load_average'])}", flush=True)
        return
    if args.compare_compile:
        for spec in args.precisions or ["fp32" if args.device == "cpu" else "fp16"]:
            for batch in args.batches:
                print(_format_compare(run_compare_compile(args.device, spec, batch, max(args.repeat, 1))), flush=True)
        return
    if args.e2e_one:
        precision, cl, config, seconds, fps, batch, output = args.e2e_one.split(",")
        row = run_e2e(args.device, precision, cl == "1", config, float(seconds), float(fps), int(batch), output)
        print(json.dumps(row))
        return
    if args.e2e:
        if args.batches == [1, 4, 8]:
            args.batches = [8]
        main_e2e(args)
        return
    if args.one:
        precision, cl, batch, compile = args.one.split(",")
        print(json.dumps(run_one(args.device, precision, cl == "1", int(batch), args.repeat, compile == "1")))
        return
    default = ["fp32", "bf16", "bf16+cl"] if args.device == "cpu" else ["fp32", "fp16", "fp16+cl", "bf16"]
    rows = []
    for spec in args.precisions or default:
        precision, cl, compile = spec.split("+")[0], "+cl" in spec, spec.endswith("+compile")
        for batch in args.batches:
            cmd = [sys.executable, __file__, "--device", args.device, "--repeat", str(args.repeat),
                   "--one", f"{precision},{int(cl)},{batch},{int(compile)}"]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            row = json.loads(out.strip().splitlines()[-1])
            if args.accuracy and batch == args.batches[0] and precision != "fp32":
                row["rel_l2_vs_fp32"] = accuracy_vs_fp32(precision, cl)
            rows.append(row)
            print(_format(row), flush=True)


def _format_compare(row: dict) -> str:
    load = ", ".join(f"{x:.1f}" for x in row["load_average"])
    return (
        f"{row['device']:5s} | {row['precision']:5s} | batch {row['batch']:2d} | warp+decode per frame: eager "
        f"{row['eager_s_per_frame']:.2f} s, compiled {row['compiled_s_per_frame']:.2f} s (medians of "
        f"{row['repeat']}, interleaved) = x{row['eager_s_per_frame'] / row['compiled_s_per_frame']:.2f} | compile "
        f"{row['compile_s']:.0f} s | rel L2 {row['rel_l2']:.1e} | {row['threads']} threads, load average {load}"
    )


def _format(row: dict) -> str:
    gpu = f" | gpu peak {row['peak_gpu_gib']:.2f} GiB" if row["peak_gpu_gib"] is not None else ""
    if row.get("compile_s") is not None:
        gpu += f" | compile {row['compile_s']:.0f} s"
    acc = f" | frame rel L2 vs fp32 {row['rel_l2_vs_fp32']:.1e}" if row.get("rel_l2_vs_fp32") is not None else ""
    return (
        f"{row['device']:5s} | {row['precision']:22s} | batch {row['batch']:2d} | warp+decode "
        f"{row['render_s_per_frame'] * 1000:9.1f} ms/frame | appearance {row['appearance_s_per_image'] * 1000:7.1f} "
        f"ms | motion {row['motion_s_per_image'] * 1000:7.1f} ms | peak RSS {row['peak_rss_gib']:.2f} GiB{gpu}{acc}"
    )


if __name__ == "__main__":
    main()
