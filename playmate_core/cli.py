"""``python -m playmate_core <command>``: commands register from their modules.

Each entry of COMMANDS maps a name to (help, add_arguments(parser), run(args) -> int).
"""

from __future__ import annotations

import argparse
import importlib

# command name -> module that defines HELP, add_arguments(parser) and run(args)
COMMAND_MODULES = {
    "convert-joyvasa": "playmate_core.motion.convert",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m playmate_core", description="ComfyUI-Playmate tools")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, module_name in COMMAND_MODULES.items():
        module = importlib.import_module(module_name)
        sub = commands.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}")
        return 2
