"""Doubles of the ComfyUI core nodes our example workflows use, doing the same real work without the host.

Ids, input names and order, widget options and outputs are the host's (Comfy-Org/ComfyUI a125cd84:
nodes.py LoadImage / ImageBatch, comfy_extras/nodes_audio.py LoadAudio, comfy_extras/nodes_video.py
LoadVideo / CreateVideo / SaveVideo, comfy_extras/nodes_rebatch.py RebatchImages); tests/test_real_host.py
checks them against a real server's /object_info. The VIDEO values mirror the parts of comfy_api's
VideoFromFile / VideoFromComponents that nodes call: get_stream_source, get_dimensions, get_duration,
get_components and save_to (H.264 yuv420p + AAC trimmed to the video, metadata as JSON tags).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, ImageSequence

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")
AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg", ".m4a", ".aac", ".opus")
VIDEO_EXTENSIONS = (".mp4", ".webm", ".mov", ".mkv", ".avi")


class Folders:
    """The input and output folders the doubles read and write (ComfyUI/input and ComfyUI/output)."""

    input = "input"
    output = "output"


def _files(extensions: tuple[str, ...]) -> list[str]:
    if not os.path.isdir(Folders.input):
        return []
    return sorted(f for f in os.listdir(Folders.input)
                  if os.path.isfile(os.path.join(Folders.input, f)) and f.lower().endswith(extensions))


def _input_path(name: str) -> str:
    path = os.path.join(Folders.input, name)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{name} is not in the input folder {Folders.input}")
    return path


class LoadImage:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": (_files(IMAGE_EXTENSIONS), {"image_upload": True})}}

    RETURN_TYPES = ("IMAGE", "MASK")
    FUNCTION = "load_image"
    CATEGORY = "image"

    def load_image(self, image):
        """IMAGE [B,H,W,3] float 0..1 (frames of the first frame's size) and MASK = 1 - alpha (64x64 zeros without)."""
        pil = Image.open(_input_path(image))
        images, masks, size = [], [], None
        for frame in ImageSequence.Iterator(pil):
            frame = ImageOps.exif_transpose(frame)
            rgb = frame.convert("RGB")
            size = size or rgb.size
            if rgb.size != size:
                continue
            images.append(torch.from_numpy(np.asarray(rgb, dtype=np.float32) / 255.0)[None])
            if "A" in frame.getbands():
                masks.append(1.0 - torch.from_numpy(np.asarray(frame.getchannel("A"), dtype=np.float32) / 255.0)[None])
            else:
                masks.append(torch.zeros(1, 64, 64))
        if len(images) > 1 and pil.format != "MPO":
            return (torch.cat(images), torch.cat(masks))
        return (images[0], masks[0])


class ImageBatch:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image1": ("IMAGE",), "image2": ("IMAGE",)}}

    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "batch"
    CATEGORY = "image"

    def batch(self, image1, image2):
        """image2 is scaled to cover image1's size and centre-cropped (the host's common_upscale 'center')."""
        if image1.shape[1:] != image2.shape[1:]:
            height, width = image1.shape[1:3]
            src = image2.movedim(-1, 1)
            scale = max(height / src.shape[2], width / src.shape[3])
            h, w = round(src.shape[2] * scale), round(src.shape[3] * scale)
            src = F.interpolate(src, size=(h, w), mode="bilinear", align_corners=False)
            top, left = (h - height) // 2, (w - width) // 2
            image2 = src[:, :, top:top + height, left:left + width].movedim(1, -1)
        return (torch.cat((image1, image2), dim=0),)


class RebatchImages:
    INPUT_IS_LIST = True
    OUTPUT_IS_LIST = (True,)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"images": ("IMAGE",), "batch_size": ("INT", {"default": 1, "min": 1, "max": 4096})}}

    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "rebatch"
    CATEGORY = "image/batch"

    def rebatch(self, images, batch_size):
        singles = [img[i:i + 1] for img in images for i in range(img.shape[0])]
        size = batch_size[0]
        return ([torch.cat(singles[i:i + size]) for i in range(0, len(singles), size)],)


def decode_audio(path: str) -> tuple[torch.Tensor, int]:
    """PyAV decode of the first audio stream -> ([C, T] float32, sample rate); int PCM scaled to [-1, 1]."""
    with av.open(path) as container:
        if not container.streams.audio:
            raise ValueError("No audio stream found in the file.")
        stream = container.streams.audio[0]
        channels, rate = stream.channels, stream.codec_context.sample_rate
        parts = []
        for frame in container.decode(streams=stream.index):
            buf = torch.from_numpy(frame.to_ndarray())
            if buf.shape[0] != channels:
                buf = buf.view(-1, channels).t()
            parts.append(buf)
    if not parts:
        raise ValueError("No audio frames decoded.")
    wav = torch.cat(parts, dim=1)
    if wav.dtype == torch.int16:
        wav = wav.float() / 2**15
    elif wav.dtype == torch.int32:
        wav = wav.float() / 2**31
    return wav, rate


class LoadAudio:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"audio": (_files(AUDIO_EXTENSIONS + VIDEO_EXTENSIONS), {"audio_upload": True})}}

    RETURN_TYPES = ("AUDIO",)
    FUNCTION = "load"
    CATEGORY = "audio"

    def load(self, audio):
        waveform, rate = decode_audio(_input_path(audio))
        return ({"waveform": waveform.unsqueeze(0), "sample_rate": rate},)


@dataclass
class VideoComponents:
    images: torch.Tensor
    frame_rate: Fraction
    audio: dict | None = None


class VideoFromFile:
    """A lazily read video file (comfy_api VideoFromFile)."""

    def __init__(self, path: str):
        self.path = path

    def get_stream_source(self) -> str:
        return self.path

    def get_dimensions(self) -> tuple[int, int]:
        with av.open(self.path) as container:
            stream = container.streams.video[0]
            return stream.width, stream.height

    def get_duration(self) -> float:
        with av.open(self.path) as container:
            return float(container.duration / av.time_base)

    def get_components(self) -> VideoComponents:
        with av.open(self.path) as container:
            stream = container.streams.video[0]
            frames = [torch.from_numpy(f.to_ndarray(format="rgb24")).float() / 255.0 for f in container.decode(stream)]
            rate = Fraction(stream.average_rate)
        audio = None
        with av.open(self.path) as container:
            if container.streams.audio:
                waveform, sample_rate = decode_audio(self.path)
                audio = {"waveform": waveform.unsqueeze(0), "sample_rate": sample_rate}
        return VideoComponents(torch.stack(frames), rate, audio)


class VideoFromComponents:
    """Frames + optional audio held in memory (comfy_api VideoFromComponents)."""

    def __init__(self, components: VideoComponents):
        self._components = components

    def get_components(self) -> VideoComponents:
        return VideoComponents(self._components.images, self._components.frame_rate, self._components.audio)

    def get_dimensions(self) -> tuple[int, int]:
        return int(self._components.images.shape[2]), int(self._components.images.shape[1])

    def save_to(self, path: str, format: str = "auto", codec: str = "auto", metadata: dict | None = None) -> None:
        if format not in ("auto", "mp4") or codec not in ("auto", "h264"):
            raise ValueError("Only MP4 / H264 is supported")
        images, audio = self._components.images, self._components.audio
        with av.open(path, mode="w", options={"movflags": "use_metadata_tags"}) as output:
            for key, value in (metadata or {}).items():
                output.metadata[key] = json.dumps(value)
            rate = Fraction(round(self._components.frame_rate * 1000), 1000)
            video = output.add_stream("h264", rate=rate)
            video.width, video.height, video.pix_fmt = images.shape[2], images.shape[1], "yuv420p"
            audio_stream = output.add_stream("aac", rate=int(audio["sample_rate"])) if audio else None
            for frame in images:
                pixels = (frame * 255).clamp(0, 255).byte().cpu().numpy()
                output.mux(video.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24").reformat(format="yuv420p")))
            output.mux(video.encode(None))
            if audio_stream is not None:
                sample_rate = int(audio["sample_rate"])
                waveform = audio["waveform"][:, :, :math.ceil(sample_rate / rate * images.shape[0])]
                layout = "mono" if waveform.shape[1] == 1 else "stereo"
                frame = av.AudioFrame.from_ndarray(waveform.movedim(2, 1).reshape(1, -1).float().numpy(), format="flt",
                                                   layout=layout)
                frame.sample_rate, frame.pts = sample_rate, 0
                output.mux(audio_stream.encode(frame))
                output.mux(audio_stream.encode(None))


class LoadVideo:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"file": (_files(VIDEO_EXTENSIONS), {"video_upload": True})}}

    RETURN_TYPES = ("VIDEO",)
    FUNCTION = "execute"
    CATEGORY = "image/video"

    def execute(self, file):
        return (VideoFromFile(_input_path(file)),)


class CreateVideo:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"images": ("IMAGE",),
                             "fps": ("FLOAT", {"default": 30.0, "min": 1.0, "max": 120.0, "step": 1.0})},
                "optional": {"audio": ("AUDIO",)}}

    RETURN_TYPES = ("VIDEO",)
    FUNCTION = "execute"
    CATEGORY = "image/video"

    def execute(self, images, fps, audio=None):
        return (VideoFromComponents(VideoComponents(images, Fraction(fps), audio)),)


def save_image_path(prefix: str) -> tuple[str, str, str]:
    """(folder, subfolder, file name) of the next ``<prefix>_<counter:05>_.mp4`` in the output folder."""
    subfolder, name = os.path.split(os.path.normpath(prefix))
    folder = os.path.join(Folders.output, subfolder)
    os.makedirs(folder, exist_ok=True)
    counters = [int(f[len(name) + 1:].split("_")[0]) for f in os.listdir(folder)
                if f.startswith(name + "_") and f[len(name) + 1:].split("_")[0].isdigit()]
    return folder, subfolder, f"{name}_{max(counters, default=0) + 1:05}_.mp4"


class SaveVideo:
    OUTPUT_NODE = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"video": ("VIDEO",),
                             "filename_prefix": ("STRING", {"default": "video/ComfyUI"}),
                             "format": (["auto", "mp4"], {"default": "auto"}),
                             "codec": (["auto", "h264"], {"default": "auto"})},
                "hidden": {"prompt": "PROMPT", "extra_pnginfo": "EXTRA_PNGINFO"}}

    RETURN_TYPES = ()
    FUNCTION = "execute"
    CATEGORY = "image/video"

    def execute(self, video, filename_prefix, format, codec, prompt=None, extra_pnginfo=None):
        folder, subfolder, file = save_image_path(filename_prefix)
        metadata = dict(extra_pnginfo or {})
        if prompt is not None:
            metadata["prompt"] = prompt
        video.save_to(os.path.join(folder, file), format=format, codec=codec, metadata=metadata or None)
        return {"ui": {"images": [{"filename": file, "subfolder": subfolder, "type": "output"}], "animated": (True,)}}


class PreviewAny:
    """Shows any value as text in the node (comfy_extras/nodes_preview_any.py): strings as they are."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"source": ("*", {})}}

    RETURN_TYPES = ()
    FUNCTION = "main"
    OUTPUT_NODE = True
    CATEGORY = "utils"

    def main(self, source=None):
        return {"ui": {"text": (source if isinstance(source, str) else json.dumps(source),)}}


NODE_CLASS_MAPPINGS = {cls.__name__: cls for cls in
                       (LoadImage, ImageBatch, RebatchImages, LoadAudio, LoadVideo, CreateVideo, SaveVideo, PreviewAny)}
