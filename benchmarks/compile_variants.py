"""CPU compile variants for warp + decode (issue 15's x1.8 target), interleaved in one process, and the
machine's convolution ceiling that bounds any of them.

Full-size LivePortrait networks, fp32, batch 1, random weights. Variants (all inductor, freezing=True):
  eager           official-equivalent: eager warp, eager decoder (contiguous)
  dec             eager warp, compiled decoder (the renderer's CPU compile path)
  dec_cl          eager warp, compiled decoder with channels_last weights and input
  hg+dec          dense-motion hourglass and mask conv (the 3D convolutions) compiled, grid_sample eager
  hg+dec_cl       both of the above
Then: the GFLOP of warp and decoder (torch's FLOP counter) and the best rate of one large oneDNN 3x3
convolution, contiguous and channels_last, which bounds the frame time from below.

    python benchmarks/compile_variants.py --repeat 5
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from render_bench import _full_size_renderer, _render_inputs  # noqa: E402


def _compiled(module):
    return torch.compile(module, backend="inductor", dynamic=False, options={"freezing": True})


def _conv_ceiling() -> dict:
    """Best GFLOP/s of a 256->256 3x3 convolution on a 128x128 map, per memory format."""
    conv = torch.nn.Conv2d(256, 256, 3, padding=1).eval()
    flop = 2 * 256 * 256 * 9 * 128 * 128
    rates = {}
    for name, fmt in (("contiguous", torch.contiguous_format), ("channels_last", torch.channels_last)):
        net, x = conv.to(memory_format=fmt), torch.randn(1, 256, 128, 128).contiguous(memory_format=fmt)
        net(x)
        best = min(_seconds(lambda: net(x)) for _ in range(10))
        rates[name] = flop / best / 1e9
    return rates


def _seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    renderer = _full_size_renderer(torch.device("cpu"), torch.float32, False)
    _, source, x_s, x_d = _render_inputs(renderer, 1, torch.device("cpu"))
    decoder = _compiled(renderer.decoder)
    decoder_cl = _compiled(copy.deepcopy(renderer.decoder).to(memory_format=torch.channels_last))
    warping_hg = copy.deepcopy(renderer.warping)
    dense = warping_hg.dense_motion_network
    dense.hourglass, dense.mask = _compiled(dense.hourglass), _compiled(dense.mask)

    def warp(net):
        return net(source.appearance, kp_source=x_s, kp_driving=x_d)["out"]

    def cl(x):
        return x.contiguous(memory_format=torch.channels_last)

    variants = {
        "eager": lambda: renderer.decoder(warp(renderer.warping)),
        "dec": lambda: decoder(warp(renderer.warping)),
        "dec_cl": lambda: decoder_cl(cl(warp(renderer.warping))),
        "hg+dec": lambda: decoder(warp(warping_hg)),
        "hg+dec_cl": lambda: decoder_cl(cl(warp(warping_hg))),
    }
    times = {name: [] for name in variants}
    with torch.inference_mode():
        reference = variants["eager"]()
        for name, fn in variants.items():
            start = time.perf_counter()
            out = fn()
            rel = float((out - reference).norm() / reference.norm())
            print(f"{name}: first call {time.perf_counter() - start:.0f} s, rel L2 vs eager {rel:.1e}", flush=True)
        for _ in range(args.repeat):
            for name, fn in variants.items():
                times[name].append(_seconds(fn))
        with FlopCounterMode(display=False) as counter:
            feature = warp(renderer.warping)
        warp_gflop = counter.get_total_flops() / 1e9
        with FlopCounterMode(display=False) as counter:
            renderer.decoder(feature)
        decoder_gflop = counter.get_total_flops() / 1e9
        ceiling = _conv_ceiling()
    eager = statistics.median(times["eager"])
    print(f"\n{torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f} (1 min) after the runs")
    print("| variant | median s/frame | speed-up | min s/frame | runs |\n|---|---|---|---|---|")
    for name, runs in times.items():
        median = statistics.median(runs)
        print(f"| {name} | {median:.2f} | x{eager / median:.2f} | {min(runs):.2f} | "
              f"{' '.join(f'{t:.1f}' for t in runs)} |")
    total = warp_gflop + decoder_gflop
    print(f"\nwarp {warp_gflop:.0f} GFLOP + decoder {decoder_gflop:.0f} GFLOP = {total:.0f} GFLOP per frame")
    for name, rate in ceiling.items():
        print(f"oneDNN 3x3 conv {name}: {rate:.0f} GFLOP/s -> floor {total / rate:.2f} s/frame at that rate")


if __name__ == "__main__":
    main()
