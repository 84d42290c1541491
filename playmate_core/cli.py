"""``python -m playmate_core <command>``: the library's command line.

Each command is a (help, add_arguments, run) triple registered in COMMANDS by the module that
owns it; ``run(args) -> int`` returns the exit code.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
from typing import Callable, NamedTuple

import torch


class Command(NamedTuple):
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    inference: bool = True  # run under torch.inference_mode (False for commands that train)


def _convert_liveportrait_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="a folder with a LivePortrait set (official .pth or Kijai .safetensors), "
                                       "or one of its files")
    parser.add_argument("out", help="output .safetensors path (all five networks, config in the metadata)")
    parser.add_argument("--dtype", choices=["fp32", "fp16", "bf16"], default="fp32", help="weight precision to store")
    parser.add_argument("--species", choices=["auto", "human", "animal"], default="auto",
                        help="which LivePortrait set, stored in the metadata; auto: animal when the set is in "
                             "an animal folder (Kijai's animal/, the official liveportrait_animals/), else human")


def _convert_liveportrait(args: argparse.Namespace) -> int:
    from .checkpoint.io import DTYPES
    from .implicit.checkpoints import convert_renderer
    from .implicit.renderer import load_renderer

    files = convert_renderer(args.source, args.out, DTYPES[args.dtype], args.species)
    renderer = load_renderer(args.out)  # proves the written file loads strictly
    print(f"wrote {args.out} from the {files.layout} layout ({args.dtype}, {renderer.species} set)")
    return 0


def _lazy(module: str, function: str) -> Callable:
    """``module.function`` (module relative to this package), imported on the first call: importing this module
    stays light, a command's module loads when the parser is built."""

    def call(arg):
        return getattr(importlib.import_module(module, __package__), function)(arg)

    return call


COMMANDS: dict[str, Command] = {
    "convert-liveportrait": Command(
        "convert a LivePortrait set to one Playmate safetensors file", _convert_liveportrait_args, _convert_liveportrait
    ),
    "convert-joyvasa": Command(
        "convert JoyVASA's motion generator (.pt + motion_template.pkl) to a Playmate motion safetensors",
        _lazy(".motion.convert", "add_arguments"), _lazy(".motion.convert", "run"),
    ),
    "animate": Command("portrait + speech -> talking-head MP4 (JoyVASA + HuBERT + LivePortrait by default)",
                       _lazy(".animate_command", "add_animate_arguments"), _lazy(".animate_command", "run_animate")),
    "download": Command("fetch the public model files (LivePortrait, HuBERT, wav2vec2, JoyVASA) into a models folder",
                        _lazy(".model_commands", "add_download_arguments"), _lazy(".model_commands", "run_download")),
    "train": Command("train the motion model (stage1), its emotion controller (stage2), or fine-tune the renderer",
                     _lazy(".train.commands", "add_arguments"), _lazy(".train.commands", "run"), inference=False),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m playmate_core", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, command in COMMANDS.items():
        command.add_arguments(sub.add_parser(name, help=command.help, description=command.help))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = COMMANDS[args.command]
    try:
        with torch.inference_mode() if command.inference else contextlib.nullcontext():
            return command.run(args)
    except (ValueError, OSError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
