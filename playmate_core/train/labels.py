"""Emotion labels and identities of training videos: from folder names or from a CSV file.

CSV columns (header required): ``path,emotion[,identity]``; path relative to the videos folder
(``/`` separators); an empty emotion means unlabelled. Folder labels: the nearest folder on the
video's path named like a label (MEAD: ``M003/video/front/happy/level_1/001.mp4`` -> happy).
"""

from __future__ import annotations

import csv
import os
from pathlib import PurePosixPath

from ..motion.conditions import EMOTION_LABELS

LABELS = tuple(label for label in EMOTION_LABELS if label != "null")
IDENTITY_MODES = ("folder", "file", "csv")


class LabelError(ValueError):
    """A label file or label that cannot be used; the message names the file, line and label."""


def check_label(label: str, where: str) -> str:
    key = label.strip().lower()
    if key not in LABELS:
        raise LabelError(f"{where}: unknown emotion label {label!r}; valid labels: {', '.join(LABELS)}")
    return key


def read_label_csv(path: str) -> dict[str, dict]:
    """{relative video path: {"emotion": label | None, "identity": str | None}}."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
            columns = [c.strip() for c in reader.fieldnames or []]
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise LabelError(f"{path}: cannot read the label CSV ({err})") from err
    if "path" not in columns or "emotion" not in columns:
        raise LabelError(f"{path}: the label CSV needs a header with the "
                         f"columns path,emotion[,identity]; got {columns}")
    labels = {}
    for line, row in enumerate(rows, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        source = str(PurePosixPath(row["path"].replace("\\", "/")))
        if not row["path"]:
            raise LabelError(f"{path} line {line}: empty path")
        if source in labels:
            raise LabelError(f"{path} line {line}: {source} is listed twice")
        emotion = check_label(row["emotion"], f"{path} line {line} ({source})") if row["emotion"] else None
        labels[source] = {"emotion": emotion, "identity": row.get("identity") or None}
    return labels


def folder_label(source: str) -> str | None:
    """The nearest folder of a relative path named like an emotion label (case-insensitive), else None."""
    for part in reversed(PurePosixPath(source).parts[:-1]):
        if part.lower() in LABELS:
            return part.lower()
    return None


def identity_of(source: str, mode: str, csv_row: dict | None) -> str:
    """"folder": the top folder under the videos folder (a file at the top: its name without extension);
    "file": the file name without extension; "csv": the CSV's identity column."""
    parts = PurePosixPath(source).parts
    if mode == "folder":
        return parts[0] if len(parts) > 1 else os.path.splitext(parts[-1])[0]
    if mode == "file":
        return os.path.splitext(parts[-1])[0]
    if mode == "csv":
        if not csv_row or not csv_row.get("identity"):
            raise LabelError(f"{source}: identity=csv but the label CSV has no identity for this video")
        return csv_row["identity"]
    raise LabelError(f"identity must be one of {', '.join(IDENTITY_MODES)}, got {mode!r}")
