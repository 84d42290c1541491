"""Where would fp16 overflow or lose the signal? The largest |activation| at every layer boundary of
the four LivePortrait networks (F, M, W, G), measured in fp32 on the full-size golden case.

    python tools/fp16_activations.py [--all] [--fixture tests/fixtures/liveportrait]

Weights: the golden fixture's deterministic full-size stand-in weights (tests/lp_weights.py), loaded
through the public loader; inputs: the golden source image, f_s, x_s and the final driving keypoints.
Every module's output (each tensor of a dict output) is recorded with a forward hook:

    max|x|     the largest magnitude; fp16 overflows to inf above 65504
    headroom   65504 / max|x|
    ulp@max    fp16's spacing at max|x| (its absolute resolution there)
    <normal    share of the non-zero values below fp16's smallest normal 6.1e-5 (they lose bits)
    ->0        share of the non-zero values that round to zero in fp16 (below 2.98e-8)

Rows with headroom < 8 or ->0 > 1 % are flagged. Without --all only the flagged rows and the five
largest per network are printed, then one summary line per network.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from golden_fixtures import liveportrait_source_image  # noqa: E402
from lp_weights import golden_official_states, write_kijai_layout  # noqa: E402
from playmate_core.implicit.renderer import load_renderer  # noqa: E402

FP16_MAX = 65504.0
FP16_MIN_NORMAL = 2.0**-14
FP16_HALF_MIN_SUBNORMAL = 2.0**-25
HEADROOM_FLAG = 8.0
UNDERFLOW_FLAG = 0.01


def fp16_ulp(value: float) -> float:
    """Spacing of fp16 numbers around value (10 fraction bits)."""
    if value < FP16_MIN_NORMAL:
        return 2.0**-24
    return 2.0 ** (math.floor(math.log2(value)) - 10)


def tensor_row(name: str, x: torch.Tensor) -> dict:
    a = x.detach().abs().float()
    nonzero = a[a > 0]
    count = max(1, nonzero.numel())
    peak = float(a.max()) if a.numel() else 0.0
    return {
        "name": name, "shape": tuple(x.shape), "max": peak, "headroom": FP16_MAX / peak if peak else math.inf,
        "ulp": fp16_ulp(peak), "subnormal": float((nonzero < FP16_MIN_NORMAL).sum()) / count,
        "zero": float((nonzero < FP16_HALF_MIN_SUBNORMAL).sum()) / count,
    }


def record(network: torch.nn.Module, label: str, run) -> list[dict]:
    """Run ``run()`` with a hook on every module of network; rows in call order."""
    rows, handles = [], []

    def hook(name):
        def on_output(_module, _inputs, output):
            items = output.items() if isinstance(output, dict) else [("", output)]
            for key, value in items:
                if isinstance(value, torch.Tensor) and value.is_floating_point():
                    rows.append(tensor_row(f"{label}.{name}{'[' + key + ']' if key else ''}".rstrip("."), value))
        return on_output

    for name, module in network.named_modules():
        handles.append(module.register_forward_hook(hook(name)))
    try:
        with torch.inference_mode():
            run()
    finally:
        for handle in handles:
            handle.remove()
    return rows


def weight_row(label: str, network: torch.nn.Module) -> dict:
    values = torch.cat([p.detach().abs().flatten().float() for p in network.parameters()])
    return tensor_row(f"{label} weights", values)


def flagged(row: dict) -> bool:
    return row["headroom"] < HEADROOM_FLAG or row["zero"] > UNDERFLOW_FLAG


def format_row(row: dict) -> str:
    flag = "  <-- at risk" if flagged(row) else ""
    return (f"{row['name'][:58]:58s} {str(list(row['shape']))[:22]:22s} {row['max']:10.4g} {row['headroom']:9.1f}"
            f" {row['ulp']:9.2g} {row['subnormal'] * 100:7.2f}% {row['zero'] * 100:6.2f}%{flag}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixture", default=str(ROOT / "tests" / "fixtures" / "liveportrait"))
    parser.add_argument("--all", action="store_true", help="print every layer boundary")
    args = parser.parse_args()
    fixture = Path(args.fixture)
    golden = load_file(str(fixture / "golden.safetensors"))
    with tempfile.TemporaryDirectory() as tmp:
        renderer = load_renderer(str(write_kijai_layout(golden_official_states(fixture), Path(tmp))))
    image = liveportrait_source_image()
    x_s, x_d = golden["derived.x_s"], golden["e2e.x_d_final"]
    with torch.inference_mode():
        f_s = renderer.appearance_extractor(image)
    warped = {}
    networks = {
        "F": (renderer.appearance_extractor, lambda: renderer.appearance_extractor(image)),
        "M": (renderer.motion_extractor, lambda: renderer.motion_extractor(image)),
        "W": (renderer.warping, lambda: warped.update(renderer.warping(f_s, kp_source=x_s, kp_driving=x_d))),
        "G": (renderer.decoder, lambda: renderer.decoder(warped["out"])),
    }
    header = (f"{'layer boundary':58s} {'shape':22s} {'max|x|':>10s} "
              f"{'headroom':>9s} {'ulp@max':>9s} {'<normal':>8s} {'->0':>7s}")
    summary = []
    for label, (network, run) in networks.items():
        rows = record(network, label, run)
        rows.append(weight_row(label, network))
        shown = rows if args.all else [r for r in rows if flagged(r)] + sorted(rows, key=lambda r: -r["max"])[:5]
        print(f"\n{label}: {len(rows) - 1} layer boundaries\n{header}")
        seen = set()
        for row in shown:
            if id(row) not in seen:
                seen.add(id(row))
                print(format_row(row))
        peak = max(rows[:-1], key=lambda r: r["max"])
        summary.append(f"{label}: {len(rows) - 1} boundaries, largest |x| {peak['max']:.4g} at {peak['name']} "
                       f"(headroom {peak['headroom']:.0f}x), {sum(flagged(r) for r in rows)} flagged, "
                       f"max share rounding to 0 {max(r['zero'] for r in rows) * 100:.2f}%")
    print("\nSummary (fp16 max 65504, smallest normal 6.1e-5):")
    print("\n".join(summary))


if __name__ == "__main__":
    main()
