"""``python -m playmate_core download``: fetch the public weights into a models folder."""

from __future__ import annotations

import argparse
import sys

from .public_models import GROUPS, default_models_dir, fetch_groups, parse_groups
from .terminal import ProgressBar


def add_models_dir_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--models-dir", default=None,
                        help="models folder in ComfyUI's layout (liveportrait/, audio_encoders/, playmate/); "
                             "default: $PLAYMATE_MODELS_DIR, else ./models (run from your ComfyUI folder to use "
                             "ComfyUI's own models folder)")


def add_download_arguments(parser: argparse.ArgumentParser) -> None:
    add_models_dir_argument(parser)
    sizes = ", ".join(f"{g.key} (~{g.approx_mb} MB)" for g in GROUPS.values())
    parser.add_argument("--only", default=None, metavar="GROUPS",
                        help=f"comma-separated groups to fetch: {sizes}, or all; default: liveportrait,joyvasa "
                             "(what `animate` and the workflows' default models need: JoyVASA carries its own HuBERT; "
                             "hubert / wav2vec2 are for Playmate models; liveportrait_animal only when named)")
    parser.add_argument("--force", action="store_true",
                        help="download again even when a file is present and verified")


def run_download(args: argparse.Namespace) -> int:
    models_dir = args.models_dir or default_models_dir()
    groups = parse_groups(args.only)
    bars: list[ProgressBar] = []

    def on_file(group, remote):
        if bars:
            bars[-1].close()
        bars.append(ProgressBar(f"{group.key}: {remote.name}", unit="MB"))
        return bars[-1]

    paths, failures = fetch_groups(groups, models_dir, force=args.force, on_file=on_file)
    if bars:
        bars[-1].close()
    if failures:
        lines = [f"error: {len(failures)} of {len(paths) + len(failures)} file(s) could not be downloaded:"]
        for failure in failures:
            lines += [f"  - {failure.file.name}", f"      from:  {failure.file.url}",
                      f"      to:    {failure.folder}", f"      error: {failure.error}"]
        lines.append("Download them by hand into those folders, or run the command again when online "
                     "(partial downloads resume).")
        print("\n".join(lines), file=sys.stderr)
        return 2
    print(f"{len(paths)} file(s) present and verified in {models_dir} "
          f"({', '.join(g.key for g in groups)})")
    return 0
