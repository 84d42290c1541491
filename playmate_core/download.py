"""Fetch public model files: resumable, verified, atomic.

A file is downloaded to ``<name>.part`` beside its final name and renamed only when it is complete and
matches its expected size and SHA-256, so nothing ever appears under the final name half-written. A
network failure keeps the ``.part`` file, and the next attempt asks the server for the rest (an HTTP
Range request) when the server supports it.

What the file must look like comes from two places: values pinned in the code (``RemoteFile.size`` /
``sha256``) and what the server says. Hugging Face answers a HEAD request on a ``resolve`` URL of a
large (LFS) file with a redirect that carries ``X-Linked-Etag`` (the file's SHA-256, quoted) and
``X-Linked-Size``; small files answer directly with an ``ETag`` that is their git blob id (not a
SHA-256, so only their size is checked). The Hugging Face address can be moved with
``PLAYMATE_HF_ENDPOINT`` (or ``HF_ENDPOINT``), e.g. to a mirror.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Callable

CHUNK = 1 << 20
HF_ENDPOINT = "https://huggingface.co"
ENDPOINT_VARIABLES = ("PLAYMATE_HF_ENDPOINT", "HF_ENDPOINT")
USER_AGENT = "comfyui-playmate"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class RemoteFile:
    """A published model file: where it lives and what it must look like (None = ask the server)."""

    name: str
    url: str
    size: int | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class RemoteInfo:
    """What the server says about a file: where to GET it, its size and SHA-256 when it tells."""

    url: str
    size: int | None
    sha256: str | None


class DownloadError(RuntimeError):
    pass


def endpoint_url(url: str) -> str:
    """``url`` with the Hugging Face address replaced by $PLAYMATE_HF_ENDPOINT / $HF_ENDPOINT when set."""
    for variable in ENDPOINT_VARIABLES:
        endpoint = os.environ.get(variable, "").rstrip("/")
        if endpoint and url.startswith(HF_ENDPOINT + "/"):
            return endpoint + url[len(HF_ENDPOINT):]
    return url


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # the 3xx response itself is raised as an HTTPError and read by probe()


def open_url(request: urllib.request.Request, timeout: float, follow_redirects: bool = True):
    """Every request of this module goes through here (tests replace it to simulate being offline)."""
    if follow_redirects:
        return urllib.request.urlopen(request, timeout=timeout)
    return urllib.request.build_opener(_NoRedirect).open(request, timeout=timeout)


def normalize_etag(value: str | None) -> str | None:
    """'W/"abc"' -> 'abc'."""
    if not value:
        return None
    value = value.strip()
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"') or None


def _int_header(headers, name: str) -> int | None:
    value = headers.get(name)
    return int(value) if value and value.isdigit() else None


def probe(url: str, timeout: float = 30.0) -> RemoteInfo:
    """HEAD without following redirects (so Hugging Face's own headers are read, not the CDN's)."""
    if not url.startswith(("http://", "https://")):
        return RemoteInfo(url, None, None)
    request = urllib.request.Request(url, method="HEAD", headers={"User-Agent": USER_AGENT,
                                                                  "Accept-Encoding": "identity"})
    try:
        response = open_url(request, timeout, follow_redirects=False)
        status, headers = response.status, response.headers
        response.close()
    except urllib.error.HTTPError as err:
        if not 300 <= err.code < 400:
            raise
        status, headers = err.code, err.headers
    etag = normalize_etag(headers.get("X-Linked-Etag") or headers.get("ETag"))
    sha256 = etag.lower() if etag and _SHA256.match(etag.lower()) else None
    size = _int_header(headers, "X-Linked-Size")
    target = url
    if 300 <= status < 400 and headers.get("Location"):
        target = urllib.parse.urljoin(url, headers["Location"])
    elif size is None:
        size = _int_header(headers, "Content-Length")
    return RemoteInfo(target, size, sha256)


def _expected(remote: RemoteFile, info: RemoteInfo) -> tuple[int | None, str | None]:
    """Pinned values win; a server that disagrees with a pinned hash serves another file: refuse it."""
    if remote.sha256 and info.sha256 and remote.sha256 != info.sha256:
        raise DownloadError(f"{remote.url}: the server's file has sha256 {info.sha256}, this pack expects "
                            f"{remote.sha256} (the published file changed; update the pack)")
    if remote.size is not None and info.size is not None and remote.size != info.size:
        raise DownloadError(f"{remote.url}: the server's file has {info.size} bytes, this pack expects {remote.size} "
                            "(the published file changed; update the pack)")
    return (remote.size if remote.size is not None else info.size), (remote.sha256 or info.sha256)


def file_sha256(path: str, digest=None):
    """The running sha256 of a file's bytes (a hashlib object)."""
    digest = digest or hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
    return digest


def file_matches(path: str, size: int | None, sha256: str | None) -> bool:
    """An existing file has the expected size and (when known) sha256."""
    if not os.path.isfile(path) or (size is not None and os.path.getsize(path) != size):
        return False
    return sha256 is None or file_sha256(path).hexdigest() == sha256


def download_file(remote: RemoteFile, folder: str, progress: Callable[[int, int], None] | None = None,
                  timeout: float = 30.0, force: bool = False) -> str:
    """Download ``remote`` into ``folder`` and return the final path.

    An existing final file that matches the expected size / sha256 is kept (unless ``force``); a partial
    ``.part`` file is resumed. ``progress(bytes_done, bytes_total)`` is called as data arrives (total 0
    when unknown). Raises DownloadError naming the URL; a checksum or size mismatch also deletes the
    partial file, so the next attempt starts afresh.
    """
    os.makedirs(folder, exist_ok=True)
    final = os.path.join(folder, remote.name)
    part = final + ".part"
    url = endpoint_url(remote.url)
    try:
        try:
            info = probe(url, timeout)
        except (urllib.error.URLError, OSError, http.client.HTTPException):
            if not force and file_matches(final, remote.size, remote.sha256):
                return final  # offline, but the file is here and matches what is pinned
            raise
        size, sha256 = _expected(remote, info)
        if not force and file_matches(final, size, sha256):
            return final
        if force and os.path.exists(part):
            os.remove(part)
        digest = _fetch(info.url, part, size, timeout, progress)
    except DownloadError:
        raise
    except urllib.error.HTTPError as err:
        raise DownloadError(f"could not download {url}: HTTP {err.code} {err.reason}") from err
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        reason = getattr(err, "reason", None) or err
        raise DownloadError(f"could not download {url}: {reason!s} ({type(err).__name__})") from err
    received = os.path.getsize(part)
    if size is not None and received < size and _resumable(info.url):
        raise DownloadError(f"could not download {url}: the connection ended after {received} of {size} bytes; "
                            "run the download again to resume")
    problem = None
    if size is not None and received != size:
        problem = f"received {received} bytes, expected {size}"
    elif sha256 is not None and digest.hexdigest() != sha256:
        problem = f"sha256 {digest.hexdigest()} does not match {sha256}"
    if problem:
        os.remove(part)
        raise DownloadError(f"{url}: {problem}; the partial file was deleted, run the download again")
    os.replace(part, final)
    return final


def _resumable(url: str) -> bool:
    return url.startswith(("http://", "https://"))


def _fetch(url: str, part: str, size: int | None, timeout: float, progress) -> "hashlib._Hash":
    """GET into ``part``, continuing from its current length when the server honours Range."""
    offset = os.path.getsize(part) if os.path.isfile(part) else 0
    if size is not None and offset > size:
        os.remove(part)
        offset = 0
    if size is not None and offset == size:
        return file_sha256(part)
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    with open_url(urllib.request.Request(url, headers=headers), timeout) as response:
        resumed = offset > 0 and getattr(response, "status", None) == 206
        if resumed:
            digest = file_sha256(part)
        else:  # a fresh download, or a server that ignored the Range header and sends everything
            digest, offset = hashlib.sha256(), 0
        length = _int_header(response.headers, "Content-Length")
        total = size or ((offset + length) if length is not None else 0)
        with open(part, "ab" if resumed else "wb") as out:
            done = offset
            while chunk := response.read(CHUNK):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
    return digest


def missing_files_message(what: str, files: list[RemoteFile], folder: str, reason: str | None = None) -> str:
    """The error users see when model files are absent and could not be fetched."""
    lines = [f"{what}: these files are missing from {folder}:"]
    lines += [f"  - {f.name}  (download: {f.url})" for f in files]
    lines.append(f"Download them and put them in {folder}, then run the workflow again.")
    if reason:
        lines.append(f"Automatic download failed: {reason}")
    return "\n".join(lines)
