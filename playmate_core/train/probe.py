"""What a training video holds, read from its packets (no decoding): streams, time span, frame timing.

Every reason a video cannot be used is a SkipVideo with a sentence that goes into the report.
"""

from __future__ import annotations

from dataclasses import dataclass

import av

VFR_TOLERANCE = 0.1  # a frame interval more than 10% off the median one marks the video as variable-rate


class SkipVideo(Exception):
    """This video is not used; str(err) is the reason written to the manifest and the report."""


@dataclass(frozen=True)
class VideoProbe:
    """Times in seconds on the file's clock.

    video_start / audio_start: first video frame / first audio sample; start / duration: the span
    covered by both streams (the clip that is prepared); video_fps: the average frame rate;
    variable_rate: the frame intervals are not all equal (the frames are then picked by timestamp).
    """

    video_start: float
    audio_start: float
    start: float
    duration: float
    video_fps: float
    variable_rate: bool
    width: int
    height: int

    def notes(self, fps: float) -> list[str]:
        notes = []
        if self.variable_rate:
            notes.append(f"variable frame rate (average {self.video_fps:.3f} "
                         f"fps): frames picked by timestamp at {fps:g} fps")
        elif abs(self.video_fps - fps) > 1e-3:
            notes.append(f"{self.video_fps:.3f} fps resampled to {fps:g} fps by timestamp")
        if abs(self.video_start - self.audio_start) > 1e-3:
            notes.append(f"audio starts {self.audio_start - self.video_start:+.3f} "
                         "s after the video: the common span is used")
        return notes


def probe_video(path: str, min_seconds: float) -> VideoProbe:
    """Read the packets of the first video and audio streams; SkipVideo when the file cannot be a clip."""
    try:
        container = av.open(path, "r")
    except (av.FFmpegError, OSError, ValueError) as err:
        raise SkipVideo(f"corrupt or unreadable file ({_first_line(err)})") from err
    with container:
        if not container.streams.video:
            raise SkipVideo("no video stream")
        if not container.streams.audio:
            raise SkipVideo("no audio track (training needs the speech that goes with the face)")
        video, audio = container.streams.video[0], container.streams.audio[0]
        video_times, audio_span = [], [float("inf"), float("-inf")]
        try:
            for packet in container.demux(video, audio):
                if packet.pts is None:
                    continue
                begin = float(packet.pts * packet.time_base)
                if packet.stream.index == video.index:
                    video_times.append(begin)
                else:
                    end = begin + float((packet.duration or 0) * packet.time_base)
                    audio_span = [min(audio_span[0], begin), max(audio_span[1], end)]
        except (av.FFmpegError, OSError, ValueError) as err:
            raise SkipVideo(f"corrupt file: reading its packets failed ({_first_line(err)})") from err
        width, height = int(video.codec_context.width or 0), int(video.codec_context.height or 0)
        # the decoders' first timestamps: an AAC decoder drops its priming samples, so the sound starts
        # later than the first audio packet says
        first_video, first_audio = _first_frame_time(container, video), _first_frame_time(container, audio)
    if len(video_times) < 2:
        raise SkipVideo(f"the video stream has {len(video_times)} frame(s)")
    if audio_span[1] <= audio_span[0]:
        raise SkipVideo("the audio track has no samples")
    video_times.sort()
    video_times = [t - video_times[0] + first_video for t in video_times]
    audio_span[0] = max(audio_span[0], first_audio)
    intervals = [b - a for a, b in zip(video_times, video_times[1:])]
    median = sorted(intervals)[len(intervals) // 2]
    if median <= 0:
        raise SkipVideo("the video's frame timestamps do not increase")
    variable = any(abs(d - median) > VFR_TOLERANCE * median for d in intervals)
    video_end = video_times[-1] + median
    start = max(video_times[0], audio_span[0])
    duration = min(video_end, audio_span[1]) - start
    if duration < min_seconds:
        raise SkipVideo(
            f"too short: {max(duration, 0.0):.2f} s with both picture and sound "
            f"(video {video_end - video_times[0]:.2f} s, audio "
            f"{audio_span[1] - audio_span[0]:.2f} s; the minimum is {min_seconds:g} s)"
        )
    fps = (len(video_times) - 1) / (video_times[-1] - video_times[0])
    return VideoProbe(video_times[0], audio_span[0], start, duration, fps, variable, width, height)


def _first_frame_time(container, stream) -> float:
    try:
        container.seek(0, stream=stream)
        for frame in container.decode(stream):
            if frame.time is not None:
                return float(frame.time)
    except (av.FFmpegError, OSError, ValueError) as err:
        raise SkipVideo(f"corrupt file: the {stream.type} stream cannot be decoded ({_first_line(err)})") from err
    raise SkipVideo(f"the {stream.type} stream has no decodable frame")


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
