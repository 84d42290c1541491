"""One-shot GPU check: device tests, render speed, the whole animate, peak VRAM, in one table.

    python benchmarks/gpu_check.py              # a CUDA machine; finishes in under 8 minutes on one H100
    python benchmarks/gpu_check.py --dry-run    # any machine: tiny networks on the CPU (fp32 / bf16),
                                                # a 0.4 s clip, tests only collected, compile traced only

Sections, in order (the table is printed after each, so a cut-off run still reports):
  tests     pytest on the device-relevant test files (-m "not slow")
  accuracy  full-size warp + decode in fp16 and bf16 against fp32 (rel L2, finite)
  render    warp + decode frames/s at batch 1, 4, 8 in fp16 and bf16; peak VRAM
  animate   the whole pipeline on a 10 s clip (full-size random-weight models; stage seconds, real-time
            factor = processing seconds / clip seconds); uses the test media in tests/fixtures
  compiled  compiled fp16 (the renderer's own CUDA mode, LivePortrait's max-autotune) at batch 8, 4, 1:
            compile seconds separately, rel L2 against the same networks eager; a batch is skipped when the
            time left cannot cover its compile (a run cut off by the caller still printed every earlier table)
Networks carry random weights: speed does not depend on the values.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests"), os.path.join(ROOT, "benchmarks")]
DEVICE_TESTS = ["tests/test_render_precision.py", "tests/test_host_models.py", "tests/test_render_frames.py",
                "tests/test_implicit_loading.py"]
FIXTURES = os.path.join(ROOT, "tests", "fixtures")  # the test media and fixtures animate_bench uses

import torch  # noqa: E402

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


class Check:
    """Settings of a full or a dry run, the deadline and the rows of the table."""

    def __init__(self, args):
        self.dry = args.dry_run
        self.device = torch.device("cpu" if self.dry else "cuda")
        self.config = "tiny" if self.dry else "official"
        self.precisions = ["bf16"] if self.dry else ["fp16", "bf16"]
        self.compiled_precision = "fp32" if self.dry else "fp16"
        self.backend = "eager" if self.dry else "inductor"
        self.batches = [1, 2] if self.dry else [1, 4, 8]
        self.repeat = 1 if self.dry else 10
        self.clip_seconds = 0.4 if self.dry else 10.0
        self.deadline = time.perf_counter() + args.budget
        self.rows: list[tuple[str, str, str]] = []

    def left(self) -> float:
        return self.deadline - time.perf_counter()

    def add(self, section: str, what: str, result: str) -> None:
        self.rows.append((section, what, result))

    def print_table(self) -> None:
        print(f"\n{'section':9s} | {'what':34s} | result")
        for section, what, result in self.rows:
            print(f"{section:9s} | {what:34s} | {result}")
        sys.stdout.flush()

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()

    def reset_peak(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()

    def peak(self) -> str:
        return f"{torch.cuda.max_memory_allocated() / 2**30:.2f} GiB" if self.device.type == "cuda" else "n/a (CPU)"


def renderer_for(check: Check, precision: str):
    from playmate_core.implicit.config import RendererConfig
    from playmate_core.implicit.renderer import LivePortraitRenderer, build_networks

    torch.manual_seed(0)
    cfg = RendererConfig.tiny() if check.config == "tiny" else RendererConfig.official()
    return LivePortraitRenderer(build_networks(cfg), cfg, dtype=DTYPES[precision]).to(check.device)


def render_inputs(renderer, batch: int, device):
    g = torch.Generator().manual_seed(1)
    source = renderer.extract_source(torch.rand(1, 3, 256, 256, generator=g).to(device))
    x_s = source.keypoints().expand(batch, 21, 3)
    x_d = renderer.stitch(x_s, x_s + 0.02 * torch.randn(batch, 21, 3, generator=g).to(device))
    return source.appearance.expand(batch, *source.appearance.shape[1:]), x_s, x_d


def frames_per_second(check: Check, renderer, batch: int) -> float:
    inputs = render_inputs(renderer, batch, check.device)
    renderer.render(*inputs)
    check.sync()
    start = time.perf_counter()
    for _ in range(check.repeat):
        renderer.render(*inputs)
    check.sync()
    return check.repeat * batch / (time.perf_counter() - start)


def section_tests(check: Check) -> None:
    command = [sys.executable, "-m", "pytest", "-q", "-m", "not slow", "-p", "no:cacheprovider", *DEVICE_TESTS]
    if check.dry:
        command.append("--collect-only")
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                          timeout=max(30.0, min(240.0, check.left())))
    summary = (done.stdout.strip().splitlines() or ["no output"])[-1]
    check.add("tests", f"{len(DEVICE_TESTS)} files" + (" (collected)" if check.dry else ""),
              f"{'ok' if done.returncode == 0 else 'FAILED'}: {summary} ({time.perf_counter() - start:.0f} s)")


def rel_l2(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).norm() / b.float().norm())


def section_accuracy(check: Check) -> None:
    reference = renderer_for(check, "fp32")
    inputs = render_inputs(reference, 1, check.device)
    expected = reference.render(*inputs)
    del reference
    for precision in check.precisions:
        lowered = renderer_for(check, precision)  # the same seeded weights, cast
        out = lowered.render(*inputs)
        finite = bool(torch.isfinite(out).all())
        check.add("accuracy", f"{precision} vs fp32, batch 1", f"rel L2 {rel_l2(out, expected):.2e}, finite {finite}")


def section_render(check: Check) -> None:
    for precision in check.precisions:
        renderer = renderer_for(check, precision)
        for batch in check.batches:
            check.reset_peak()
            fps = frames_per_second(check, renderer, batch)
            check.add("render", f"{precision} batch {batch}", f"{fps:8.1f} frames/s, peak VRAM {check.peak()}")
        del renderer


def section_animate(check: Check) -> None:
    import animate_bench

    from playmate_core.pipeline import TalkingHeadPipeline

    precision = "fp32" if check.dry else "fp16"
    with tempfile.TemporaryDirectory() as tmp:
        models = os.path.join(tmp, "models")
        animate_bench.write_models(models, "tiny" if check.dry else "full")
        audio = os.path.join(tmp, "speech.wav")
        animate_bench.speech(audio, check.clip_seconds)
        check.reset_peak()
        pipe = TalkingHeadPipeline.from_files(models, device=check.device.type, precision=precision)
        result = pipe.animate(os.path.join(FIXTURES, "media", "portraits", "astronaut_512x512.png"), audio,
                              os.path.join(tmp, "out.mp4"), steps=25 if not check.dry else 2)
    stages = result.seconds
    total = sum(stages.values())
    check.add("animate", f"{check.clip_seconds:g} s clip, {precision}, {result.num_frames} frames",
              f"RTF {total / check.clip_seconds:.2f} ({total:.1f} s); " + ", ".join(
                  f"{name} {seconds:.1f}" for name, seconds in stages.items()) + f"; peak VRAM {check.peak()}")


def section_compiled(check: Check) -> None:
    renderer = renderer_for(check, check.compiled_precision)
    longest = 0.0
    for batch in sorted(check.batches, reverse=True):
        if check.left() < 1.3 * longest + 20:
            check.add("compiled", f"{check.compiled_precision} batch {batch}", f"skipped: {check.left():.0f} s left")
            continue
        reason = renderer.compile(check.device, check.backend)  # afresh: a smaller batch would be padded
        if reason is not None:
            check.add("compiled", check.compiled_precision, f"unavailable: {reason}")
            return
        inputs = render_inputs(renderer, batch, check.device)
        check.reset_peak()
        start = time.perf_counter()
        renderer.render(*inputs)
        check.sync()
        compile_s = time.perf_counter() - start
        longest = max(longest, compile_s)
        fps = frames_per_second(check, renderer, batch)
        state = "compiled" if renderer.is_compiled else "FELL BACK to eager"
        with torch.inference_mode():
            error = rel_l2(renderer.render(*inputs), renderer.warp_decode(*inputs))
        check.add("compiled", f"{check.compiled_precision} batch {batch} ({check.backend})",
                  f"{fps:8.1f} frames/s, compile {compile_s:.0f} s, {state}, rel L2 vs eager {error:.1e}, "
                  f"peak VRAM {check.peak()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="tiny networks on the CPU: checks the script itself")
    parser.add_argument("--budget", type=float, default=450.0, help="seconds for the whole check (default 450)")
    args = parser.parse_args()
    if not args.dry_run and not torch.cuda.is_available():
        print("no CUDA device here: run on a GPU machine, or use --dry-run", file=sys.stderr)
        return 2
    check = Check(args)
    name = torch.cuda.get_device_name(0) if check.device.type == "cuda" else "CPU (dry run)"
    check.add("machine", name, f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    for section in (section_tests, section_accuracy, section_render, section_animate, section_compiled):
        try:
            section(check)
        except Exception as err:  # noqa: BLE001 - report and go on: one table from one device call
            check.add(section.__name__.split("_", 1)[1], "ERROR", f"{type(err).__name__}: {err}"[:300])
        check.print_table()
    return 1 if any(r[1] == "ERROR" or "FAILED" in r[2] for r in check.rows) else 0


if __name__ == "__main__":
    sys.exit(main())
