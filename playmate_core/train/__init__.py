"""Training: data sets prepared from talking-head videos, and the trainers that read them."""
