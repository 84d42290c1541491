"""Screenshot every workflow in a real ComfyUI frontend at fit-to-view (headless Chromium) and record the node
sizes the frontend really uses (media previews grow nodes once their file has loaded).

    COMFYUI_DIR=/path/to/ComfyUI COMFYUI_PYTHON=/path/to/python python tools/screenshot_workflows.py \
        [--out docs/images/workflows] [--sizes sizes.json] [--window 1600x1000] [name ...]

Names are the API twins' (workflows/api/<name>.json); the screenshots are docs/images/workflows/<name>.jpg.

Needs the `playwright` package and a Chromium (Debian's `chromium`, or CHROMIUM=/path). The server runs with
--cpu in a temporary --base-directory: custom_nodes/ComfyUI-Playmate is a symlink to this pack, and the pack
copies its example inputs into input/ on load, so the previews show the shipped examples.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MEDIA_SETTLE_SECONDS = 4.0
JPEG_QUALITY = 72


def ui_file(name: str) -> Path:
    """The UI file of a workflow by its API twin's name (UI files are named by their template title)."""
    for path in (ROOT / "workflows").glob("*.json"):
        if json.loads(path.read_text())["extra"].get("playmate_workflow", path.stem) == name:
            return path
    raise SystemExit(f"no UI workflow for {name}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(base: Path) -> tuple[subprocess.Popen, str]:
    comfy = os.environ["COMFYUI_DIR"]
    port = free_port()
    command = [os.environ.get("COMFYUI_PYTHON", sys.executable), "main.py", "--cpu", "--listen", "127.0.0.1", "--port",
               str(port), "--disable-auto-launch", "--base-directory", str(base), "--database-url", "sqlite:///:memory:"]
    log = (base / "server.log").open("w")
    process = subprocess.Popen(command, cwd=comfy, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 300
    while time.time() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"ComfyUI exited:\n{(base / 'server.log').read_text()[-3000:]}")
        try:
            urllib.request.urlopen(url + "/system_stats", timeout=5).read()
            return process, url
        except OSError:
            time.sleep(1)
    process.kill()
    raise SystemExit("ComfyUI did not start within 300 s")


def prepare_base(base: Path) -> None:
    (base / "custom_nodes").mkdir(parents=True)
    (base / "custom_nodes" / "ComfyUI-Playmate").symlink_to(ROOT, target_is_directory=True)
    for name in ("input", "output", "models"):
        (base / name).mkdir()
    settings = base / "user" / "default" / "comfy.settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps({"Comfy.TutorialCompleted": True, "Comfy.Minimap.Visible": False}))


LOAD = """async ([workflow, name]) => {
    await window.app.loadGraphData(workflow, true, true, name);
}"""
FIT = """async () => {
    await window.app.extensionManager.command.execute('Comfy.Canvas.FitView');
    window.app.canvas.setDirty(true, true);
}"""
MEASURE = """() => ({
    scale: window.app.canvas.ds.scale,
    nodes: window.app.graph._nodes.map(n => ({id: n.id, type: n.type, pos: [n.pos[0], n.pos[1]],
                                              size: [n.size[0], n.size[1]]})),
})"""


def shoot(url: str, names: list[str], out: Path, window: tuple[int, int]) -> dict:
    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    measured = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": window[0], "height": window[1]})
        page.goto(url)
        page.wait_for_function("window.app && window.app.graph && window.app.extensionManager", timeout=120_000)
        time.sleep(3)
        for name in names:
            workflow = json.loads(ui_file(name).read_text())
            page.evaluate(LOAD, [workflow, ui_file(name).stem])
            time.sleep(MEDIA_SETTLE_SECONDS)
            page.evaluate(FIT)
            time.sleep(1.5)
            png = out / f"{name}.png"
            page.screenshot(path=str(png))
            measured[name] = page.evaluate(MEASURE)
            print(f"{name}: fit-to-view scale {measured[name]['scale']:.2f}")
        browser.close()
    return measured


def to_jpeg(png: Path, width: int) -> Path:
    from PIL import Image

    image = Image.open(png).convert("RGB")
    height = round(image.height * width / image.width)
    jpeg = png.with_suffix(".jpg")
    image.resize((width, height), Image.LANCZOS).save(jpeg, quality=JPEG_QUALITY, optimize=True, progressive=True)
    png.unlink()
    return jpeg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="workflow names (default: all)")
    parser.add_argument("--out", default=str(ROOT / "docs" / "images" / "workflows"))
    parser.add_argument("--sizes", help="write the frontend's node sizes per workflow to this JSON file")
    parser.add_argument("--window", default="1600x1000")
    parser.add_argument("--jpeg-width", type=int, default=960, help="width of the saved JPEG (0 keeps the PNG)")
    args = parser.parse_args()
    names = args.names or sorted(p.stem for p in (ROOT / "workflows" / "api").glob("*.json"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    window = tuple(int(v) for v in args.window.split("x"))
    with tempfile.TemporaryDirectory(prefix="playmate-shots-") as tmp:
        base = Path(tmp)
        prepare_base(base)
        process, url = start_server(base)
        try:
            measured = shoot(url, names, out, window)
        finally:
            process.terminate()
            process.wait(30)
    if args.jpeg_width:
        for name in names:
            print("wrote", to_jpeg(out / f"{name}.png", args.jpeg_width))
    if args.sizes:
        Path(args.sizes).write_text(json.dumps(measured, indent=1))


if __name__ == "__main__":
    main()
