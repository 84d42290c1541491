"""The downloader and `python -m playmate_core download` against a local HTTP server that answers like
Hugging Face: resolve URLs of large files redirect to a CDN path with X-Linked-Etag / X-Linked-Size, small
files answer directly with a git ETag, the CDN honours Range requests."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from playmate_core import public_models
from playmate_core.cli import main as cli_main
from playmate_core.download import DownloadError, RemoteFile, download_file
from playmate_core.public_models import ModelGroup

HF = "https://huggingface.co"
BIG = bytes(range(256)) * 4000  # 1,024,000 bytes, an "LFS" file
SMALL = b'{"model_type": "hubert"}'


class Hub:
    """Files served at /<repo>/resolve/main/<name>; options per name: lfs, etag (override), drop_after."""

    def __init__(self):
        self.files: dict[str, dict] = {}
        self.requests: list[tuple[str, str, str | None]] = []  # (method, path, Range header)
        self.sent: dict[str, int] = {}

    def add(self, name: str, data: bytes, lfs: bool = True, **options) -> str:
        self.files[name] = dict(data=data, lfs=lfs, **options)
        return f"{HF}/org/repo/resolve/main/{name}"


def make_handler(hub: Hub):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_HEAD(self):
            self._answer(body=False)

        def do_GET(self):
            self._answer(body=True)

        def _answer(self, body: bool):
            hub.requests.append((self.command, self.path, self.headers.get("Range")))
            kind, _, name = self.path.rpartition("/")
            entry = hub.files.get(name)
            if entry is None:
                self.send_error(404, "Entry not found")
                return
            data = entry["data"]
            if kind.endswith("/resolve/main") and entry["lfs"]:
                self.send_response(302)
                self.send_header("Location", f"/cdn/{name}")
                self.send_header("X-Linked-Etag", '"%s"' % entry.get("etag", hashlib.sha256(data).hexdigest()))
                self.send_header("X-Linked-Size", str(len(data)))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            start = 0
            ranged = self.headers.get("Range")
            if ranged and not entry.get("ignore_range"):
                start = int(ranged.split("=")[1].split("-")[0])
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
                if not entry["lfs"]:
                    self.send_header("ETag", '"%s"' % hashlib.sha1(data).hexdigest())
            self.send_header("Content-Length", str(len(data) - start))
            self.end_headers()
            if not body:
                return
            payload = data[start:]
            drop = entry.pop("drop_after", None)
            if drop is not None:
                payload = payload[:drop]
            self.wfile.write(payload)
            hub.sent[name] = hub.sent.get(name, 0) + len(payload)
            if drop is not None:
                self.close_connection = True

    return Handler


@pytest.fixture
def hub(monkeypatch):
    hub = Hub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(hub))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("PLAYMATE_HF_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
    yield hub
    server.shutdown()
    server.server_close()


def test_lfs_file_is_verified_against_x_linked_etag_and_small_file_by_size(hub, tmp_path):
    big = RemoteFile("big.bin", hub.add("big.bin", BIG))
    small = RemoteFile("config.json", hub.add("config.json", SMALL, lfs=False))
    seen = []
    path = download_file(big, str(tmp_path), progress=lambda done, total: seen.append((done, total)))
    assert open(path, "rb").read() == BIG
    assert seen[-1] == (len(BIG), len(BIG))
    assert ("HEAD", "/org/repo/resolve/main/big.bin", None) in hub.requests  # headers read before the redirect
    assert ("GET", "/cdn/big.bin", None) in hub.requests
    assert open(download_file(small, str(tmp_path)), "rb").read() == SMALL
    assert sorted(os.listdir(tmp_path)) == ["big.bin", "config.json"]  # no partial files left


def test_partial_file_is_resumed_with_a_range_request(hub, tmp_path):
    remote = RemoteFile("big.bin", hub.add("big.bin", BIG))
    (tmp_path / "big.bin.part").write_bytes(BIG[:300_000])
    path = download_file(remote, str(tmp_path))
    assert open(path, "rb").read() == BIG
    assert ("GET", "/cdn/big.bin", "bytes=300000-") in hub.requests
    assert hub.sent["big.bin"] == len(BIG) - 300_000


def test_interrupted_download_keeps_the_part_and_the_next_run_finishes_it(hub, tmp_path):
    remote = RemoteFile("big.bin", hub.add("big.bin", BIG, drop_after=400_000))
    with pytest.raises(DownloadError, match="could not download"):
        download_file(remote, str(tmp_path))
    assert not (tmp_path / "big.bin").exists()
    assert (tmp_path / "big.bin.part").stat().st_size == 400_000
    download_file(remote, str(tmp_path))
    assert (tmp_path / "big.bin").read_bytes() == BIG and not (tmp_path / "big.bin.part").exists()


def test_server_ignoring_range_restarts_cleanly(hub, tmp_path):
    remote = RemoteFile("big.bin", hub.add("big.bin", BIG, ignore_range=True))
    (tmp_path / "big.bin.part").write_bytes(b"garbage" * 100)
    assert open(download_file(remote, str(tmp_path)), "rb").read() == BIG


def test_checksum_mismatch_deletes_the_partial_file(hub, tmp_path):
    remote = RemoteFile("big.bin", hub.add("big.bin", BIG, etag=hashlib.sha256(b"other").hexdigest()))
    with pytest.raises(DownloadError, match="sha256 .* does not match"):
        download_file(remote, str(tmp_path))
    assert os.listdir(tmp_path) == []


def test_pinned_hash_that_differs_from_the_server_refuses_before_downloading(hub, tmp_path):
    remote = RemoteFile("big.bin", hub.add("big.bin", BIG), sha256="0" * 64)
    with pytest.raises(DownloadError, match="published file changed"):
        download_file(remote, str(tmp_path))
    assert not any(method == "GET" for method, _, _ in hub.requests)


def test_present_verified_file_is_kept_and_force_fetches_again(hub, tmp_path):
    remote = RemoteFile("big.bin", hub.add("big.bin", BIG))
    (tmp_path / "big.bin").write_bytes(BIG)
    download_file(remote, str(tmp_path))
    assert "big.bin" not in hub.sent
    download_file(remote, str(tmp_path), force=True)
    assert hub.sent["big.bin"] == len(BIG)
    (tmp_path / "big.bin").write_bytes(BIG[:-1] + b"x")  # corrupt copy: same size, wrong hash
    download_file(remote, str(tmp_path))
    assert (tmp_path / "big.bin").read_bytes() == BIG


@pytest.fixture
def groups(hub, monkeypatch):
    """The download command's groups replaced by two small ones served by the local hub."""
    test_groups = {
        "alpha": ModelGroup("alpha", "alpha files", "liveportrait", "", (
            RemoteFile("big.bin", hub.add("big.bin", BIG)),), 1),
        "beta": ModelGroup("beta", "beta encoder", "audio_encoders", "beta-base", (
            RemoteFile("config.json", hub.add("config.json", SMALL, lfs=False)),
            RemoteFile("absent.bin", f"{HF}/org/repo/resolve/main/absent.bin")), 1),
    }
    monkeypatch.setattr(public_models, "GROUPS", test_groups)
    return test_groups


def test_download_command_puts_files_in_the_host_layout(groups, tmp_path, capsys):
    assert cli_main(["download", "--models-dir", str(tmp_path), "--only", "alpha"]) == 0
    assert (tmp_path / "liveportrait" / "big.bin").read_bytes() == BIG
    assert "1 file(s) present and verified" in capsys.readouterr().out


def test_download_command_404_names_file_url_folder_and_exits_2(groups, tmp_path, capsys):
    assert cli_main(["download", "--models-dir", str(tmp_path), "--only", "alpha,beta"]) == 2
    err = capsys.readouterr().err
    assert "1 of 3 file(s) could not be downloaded" in err
    assert "absent.bin" in err and f"{HF}/org/repo/resolve/main/absent.bin" in err
    assert str(tmp_path / "audio_encoders" / "beta-base") in err and "HTTP 404" in err
    assert "Traceback" not in err
    assert (tmp_path / "audio_encoders" / "beta-base" / "config.json").read_bytes() == SMALL  # the others still came


def test_download_command_offline_says_connection_refused(groups, tmp_path, capsys, monkeypatch):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("PLAYMATE_HF_ENDPOINT", f"http://127.0.0.1:{port}")
    assert cli_main(["download", "--models-dir", str(tmp_path), "--only", "alpha"]) == 2
    err = capsys.readouterr().err
    assert "big.bin" in err and f"{HF}/org/repo/resolve/main/big.bin" in err
    assert str(tmp_path / "liveportrait") in err and "refused" in err.lower()
    assert not (tmp_path / "liveportrait" / "big.bin").exists()


def test_offline_with_the_files_present_keeps_them(groups, tmp_path, monkeypatch):
    (tmp_path / "liveportrait").mkdir()
    (tmp_path / "liveportrait" / "big.bin").write_bytes(BIG)
    monkeypatch.setenv("PLAYMATE_HF_ENDPOINT", "http://127.0.0.1:9")  # the discard port: nothing answers
    assert cli_main(["download", "--models-dir", str(tmp_path), "--only", "alpha"]) == 0
    assert cli_main(["download", "--models-dir", str(tmp_path), "--only", "alpha", "--force"]) == 2


def test_unknown_group_is_a_clear_error(groups, tmp_path, capsys):
    assert cli_main(["download", "--models-dir", str(tmp_path), "--only", "alpha,gamma"]) == 2
    assert "unknown model group(s) gamma" in capsys.readouterr().err


def test_public_catalog_matches_the_pack_metadata():
    """The liveportrait group is the pyproject [tool.comfy] model list, with the published sizes pinned."""
    import tomllib
    from pathlib import Path

    meta = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    urls = {m["model_url"] for m in meta["tool"]["comfy"]["Models"]}
    group = public_models.GROUPS["liveportrait"]
    assert {f.url for f in group.files} == urls and all(f.size for f in group.files)
    assert [f.name for f in public_models.GROUPS["joyvasa"].files] == ["motion_generator_hubert_chinese.pt",
                                                                       "motion_template.pkl"]


def test_download_defaults_to_what_the_default_graph_needs():
    """JoyVASA carries its own HuBERT: by default no stock encoder is fetched; `all` still offers them."""
    from playmate_core.public_models import parse_groups

    assert [g.key for g in parse_groups(None)] == ["liveportrait", "joyvasa"]
    assert [g.key for g in parse_groups("all")] == ["liveportrait", "hubert", "wav2vec2", "joyvasa",
                                                    "liveportrait_animal"]
    assert [g.key for g in parse_groups("hubert")] == ["hubert"]
