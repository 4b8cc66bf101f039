"""rateprobe: what speaker encoders keep about speech rate, from audio to paper."""

__version__ = "0.1.0"
