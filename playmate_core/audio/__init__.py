"""Audio in: loading, resampling, wav2vec2 / HuBERT encoders, frame-aligned features."""
