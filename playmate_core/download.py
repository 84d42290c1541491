"""Fetch public model files when there is internet: temporary file, size / sha256 check, atomic
rename, and an error that says exactly what to download and where to put it when it fails."""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Callable

CHUNK = 1 << 20


@dataclass(frozen=True)
class RemoteFile:
    """A published model file: where it lives and what it must look like."""

    name: str
    url: str
    size: int | None = None
    sha256: str | None = None


class DownloadError(RuntimeError):
    pass


def download_file(
    remote: RemoteFile, folder: str, progress: Callable[[int, int], None] | None = None, timeout: float = 30.0
) -> str:
    """Download ``remote`` into ``folder`` and return the final path. Nothing is left under the
    final name unless the whole file arrived and matched its size / checksum."""
    os.makedirs(folder, exist_ok=True)
    final = os.path.join(folder, remote.name)
    tmp = f"{final}.part-{os.getpid()}"
    digest = hashlib.sha256()
    received = 0
    try:
        with urllib.request.urlopen(remote.url, timeout=timeout) as response, open(tmp, "wb") as out:
            total = int(response.headers.get("Content-Length") or remote.size or 0)
            while chunk := response.read(CHUNK):
                out.write(chunk)
                digest.update(chunk)
                received += len(chunk)
                if progress is not None:
                    progress(received, total)
        if remote.size is not None and received != remote.size:
            raise DownloadError(f"{remote.url}: received {received} bytes, expected {remote.size}")
        if remote.sha256 is not None and digest.hexdigest() != remote.sha256:
            raise DownloadError(f"{remote.url}: sha256 {digest.hexdigest()} does not match {remote.sha256}")
        os.replace(tmp, final)
    except (urllib.error.URLError, OSError, TimeoutError) as err:
        raise DownloadError(f"could not download {remote.url}: {err}") from err
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return final


def missing_files_message(what: str, files: list[RemoteFile], folder: str, reason: str | None = None) -> str:
    """The error users see when model files are absent and could not be fetched."""
    lines = [f"{what}: these files are missing from {folder}:"]
    lines += [f"  - {f.name}  (download: {f.url})" for f in files]
    lines.append(f"Download them and put them in {folder}, then run the workflow again.")
    if reason:
        lines.append(f"Automatic download failed: {reason}")
    return "\n".join(lines)
