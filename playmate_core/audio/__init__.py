"""Audio in: loading, resampling, wav2vec2 / HuBERT encoders, frame-aligned features."""

from .align import ENCODER_FRAME_RATE, frame_positions, resample_to_video_frames
from .checkpoint import PUBLIC_ENCODERS, EncoderWeightsError
from .config import EncoderConfig, EncoderConfigError
from .encode import DEFAULT_CHUNK_SECONDS, encode_audio, features_from_encoder_output
from .encoders import AudioEncoder, encoder_from_hf_state_dict, load_audio_encoder
from .features import AudioFeatures, frame_count
from .io import load_audio_file
from .waveform import AudioInputError, audio_waveform, fit_audio_to_frames, to_encoder_input

__all__ = [
    "ENCODER_FRAME_RATE",
    "DEFAULT_CHUNK_SECONDS",
    "PUBLIC_ENCODERS",
    "AudioEncoder",
    "AudioFeatures",
    "AudioInputError",
    "EncoderConfig",
    "EncoderConfigError",
    "EncoderWeightsError",
    "audio_waveform",
    "encode_audio",
    "encoder_from_hf_state_dict",
    "features_from_encoder_output",
    "fit_audio_to_frames",
    "frame_count",
    "frame_positions",
    "load_audio_encoder",
    "load_audio_file",
    "resample_to_video_frames",
    "to_encoder_input",
]
