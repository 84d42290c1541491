"""``python -m playmate_core train <prepare|stage1|stage2|renderer> ...``: the training command line.

TRAIN_COMMANDS maps each sub-command to (help, add_arguments, run); the data-preparation command registers
itself here too (``prepare``, from train/prepare.py).
"""

from __future__ import annotations

import argparse
import os
from typing import Callable, NamedTuple

from ..public_models import PLAYMATE_EMOTION_NAME, PLAYMATE_STAGE1_NAME
from .prepare import add_prepare_arguments, run_prepare


class TrainCommand(NamedTuple):
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def _common_arguments(parser: argparse.ArgumentParser, default_out: str) -> None:
    parser.add_argument("--data", required=True, help="a data set folder written by `train "
                                                      "prepare` (manifest.json + shards/)")
    parser.add_argument("--out", default=default_out, help=f"output model file (default {default_out}); the state, "
                        "log, loss curve and sample plots are written beside it")
    parser.add_argument("--resume", action="store_true", help="continue from <out stem>.state.pt (same config)")
    parser.add_argument("--device", default="auto", help="auto (cuda when available), cpu, cuda, cuda:1 ...")
    parser.add_argument("--steps", type=int, help="override the config's step count for this stage")
    parser.add_argument("--batch-size", type=int, help="override the config's batch size (rows per process and "
                        "forward pass)")
    parser.add_argument("--accumulate", type=int, default=1, help="chunks of --batch-size rows per process and step "
                        "(gradient accumulation); global batch = batch size x processes x accumulate (default 1)")
    parser.add_argument("--stop-at", type=int, metavar="STEP", help="stop after this step (checkpointed there), e.g. "
                        "to fit a time-limited job; continue later with --resume")


def _stage1_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="tiny", help="tiny, base, or a JSON file (see playmate_core/train/configs)")
    _common_arguments(parser, PLAYMATE_STAGE1_NAME)


def _stage2_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stage1", required=True, help="the stage-1 model file (from `train stage1`) to extend")
    parser.add_argument("--config", help="tiny, base or a JSON file; default: the config stored in the stage-1 file")
    _common_arguments(parser, PLAYMATE_EMOTION_NAME)


def _device(choice: str):
    """The device of this process; under torchrun also joins the process group (cuda:LOCAL_RANK on GPUs)."""
    import torch

    from .distributed import setup

    if choice == "auto":
        return setup(torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    return setup(torch.device(choice))


def _is_main() -> bool:
    from .distributed import current_rank

    return current_rank().is_main


def _config(args: argparse.Namespace, stage: str, fallback: dict | None = None, fallback_source: str = ""):
    from .config import TrainConfig, load_train_config

    if args.config or fallback is None:
        config = load_train_config(args.config)
    else:
        config = TrainConfig.from_dict(fallback, fallback_source)
    changes = {stage: {"steps": args.steps}, "batch_size": args.batch_size}
    return config.updated(_given(changes), "--steps / --batch-size")


def _given(changes: dict) -> dict:
    """The command-line overrides that were given (None = not given), nested like the config."""
    given = {k: _given(v) if isinstance(v, dict) else v for k, v in changes.items()}
    return {k: v for k, v in given.items() if v is not None and v != {}}


def _prepare_out(path: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    if not path.endswith(".safetensors"):
        raise ValueError(f"--out must be a .safetensors file, got {path}")


def _run_stage1(args: argparse.Namespace) -> int:
    from .dataset import MotionDataset
    from .stages import run_stage1

    config = _config(args, "stage1")
    _prepare_out(args.out)
    record = run_stage1(config, MotionDataset(args.data), args.out, device=_device(args.device), resume=args.resume,
                        accumulate=args.accumulate, log=_log, stop_at=args.stop_at)
    if _is_main():
        print(f"wrote {args.out} (step {record.get('step')}, loss {record.get('loss', float('nan')):.4f})")
    return 0


def _run_stage2(args: argparse.Namespace) -> int:
    import json

    from ..checkpoint.io import read_safetensors
    from .dataset import MotionDataset
    from .stages import run_stage2

    if not os.path.isfile(args.stage1):
        raise FileNotFoundError(f"--stage1 {args.stage1}: file not found")
    stored = read_safetensors(args.stage1)[1].get("train_config")
    config = _config(args, "stage2", json.loads(stored) if stored else None,
                     f"{os.path.basename(args.stage1)} (its train_config)")
    _prepare_out(args.out)
    record = run_stage2(config, args.stage1, MotionDataset(args.data), args.out, device=_device(args.device),
                        resume=args.resume, accumulate=args.accumulate, log=_log, stop_at=args.stop_at)
    if _is_main():
        print(f"wrote {args.out} (step {record.get('step')}, loss {record.get('loss', float('nan')):.4f}); load it as "
          f"emotion_model together with {os.path.basename(args.stage1)} as model_name")
    return 0


RENDERER_OUT = "liveportrait_finetuned.safetensors"


def _renderer_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--renderer", required=True, help="the LivePortrait set to fine-tune: a folder or any file of "
                        "it (official .pth, Kijai's .safetensors, or a Playmate renderer file)")
    parser.add_argument("--vgg", required=True, help="torchvision's VGG19 weights for the perceptual and transfer "
                        "losses (vgg19-dcbb9e9d.pth from https://download.pytorch.org/models/vgg19-dcbb9e9d.pth)")
    parser.add_argument("--config", default="renderer", help="renderer (the bundled preset) or a JSON file with the "
                        "same keys (see playmate_core/train/configs/renderer.json)")
    parser.add_argument("--networks", help="override the config's trained networks: letters among F (appearance), "
                        "M (motion extractor), W (warping), G (generator), e.g. M or M,W,G (preset: M)")
    parser.add_argument("--lr", type=float, help="override the config's learning rate")
    _common_arguments(parser, RENDERER_OUT)
    parser.epilog = ("The data set must be prepared with --renderer-frames. Under torchrun every process trains its "
                     "share of the global batch: torchrun --nproc-per-node 8 -m playmate_core train renderer ... "
                     "Optional loss terms, off by default (0), set in the --config file: loss.identity (1 - cosine "
                     "similarity of the frozen appearance extractor F's features of reconstruction and target: an "
                     "appearance-identity proxy, not face recognition) and loss.gan (hinge adversarial term of a "
                     "patch discriminator trained in the same loop with its own AdamW: discriminator.lr, .betas, "
                     ".weight_decay, .channels, .layers).")


def _run_renderer(args: argparse.Namespace) -> int:
    from .dataset import MotionDataset
    from .renderer_config import load_renderer_config, parse_networks
    from .renderer_stage import load_base_set, run_renderer
    from .vgg import load_vgg19

    networks = parse_networks(args.networks) if args.networks is not None else None
    changes = {"networks": networks, "renderer": {"steps": args.steps, "lr": args.lr}, "batch_size": args.batch_size}
    config = load_renderer_config(args.config).updated(_given(changes), "--networks / --steps / --batch-size / --lr")
    _prepare_out(args.out)
    dataset, base, vgg = MotionDataset(args.data), load_base_set(args.renderer), load_vgg19(args.vgg)
    record = run_renderer(config, base, vgg, dataset, args.out, device=_device(args.device), resume=args.resume,
                          accumulate=args.accumulate, log=_log, stop_at=args.stop_at)
    if _is_main():
        print(f"wrote {args.out} (step {record.get('step')}, loss {record.get('loss', float('nan')):.4f}); put it in "
              "models/liveportrait and choose it in Load LivePortrait (any slot it should serve), or pass it to "
              "`animate --liveportrait` and `train prepare --renderer`")
    return 0


TRAIN_COMMANDS: dict[str, TrainCommand] = {
    "prepare": TrainCommand("turn a folder of talking-head videos into a training data set", add_prepare_arguments,
                            run_prepare),
    "stage1": TrainCommand("train the motion diffusion transformer (stage 1) on a prepared data set",
                           _stage1_arguments, _run_stage1),
    "stage2": TrainCommand("train the emotion controller (stage 2) on a frozen stage-1 model", _stage2_arguments,
                           _run_stage2),
    "renderer": TrainCommand("fine-tune LivePortrait networks with the "
                             "pose/expression transfer loss (Playmate Sec. 3.1)",
                             _renderer_arguments, _run_renderer),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="train_command", required=True)
    for name, command in TRAIN_COMMANDS.items():
        command.add_arguments(sub.add_parser(name, help=command.help, description=command.help))


def _log(line: str) -> None:
    if _is_main():
        print(line)


def run(args: argparse.Namespace) -> int:
    from .distributed import teardown

    finished = False
    try:
        code = TRAIN_COMMANDS[args.train_command].run(args)
        finished = True
        return code
    finally:
        teardown(finished)
