"""Acoustic frontends of the encoders: the exact input each network was trained on.

WeSpeaker (SimAM-ResNet): 80-bin Kaldi log-mel filterbank, 25 ms frames every 10 ms, Hamming
window, no dither, the waveform at int16 scale (samples in [-32768, 32767], not [-1, 1]), and each
utterance's mean removed per bin. Computed with kaldi-native-fbank, Kaldi's own algorithm; Kaldi
keeps only whole frames (snip_edges), so one second at 16 kHz gives 1 + (16000 - 400) // 160 = 98.

3D-Speaker (its CAM++ checkpoints): the same Kaldi fbank as 3D-Speaker's `FBank` computes it
for inference, i.e. torchaudio's `kaldi.fbank` with its defaults: Povey window instead of Hamming,
and the waveform at its [-1, 1] scale. The scale only shifts every log-mel bin by the same
constant, which the mean removal cancels, except where the energy floor (float32 epsilon) bites.

Resemblyzer (GE2E): 40-bin mel *power* spectrogram (not logarithmic), 25 ms Hann window every
10 ms, centred frames, Slaney mel scale and area normalisation, exactly as its `audio.py` asks of
librosa; written here in torch so that no librosa call is on the extraction path. It is taken of
the waveform as read, as `VoiceEncoder.embed_utterance` takes it: the package's separate
`preprocess_wav` (raise to -30 dBFS, VAD trimming) is not applied, since pauses are part of the
speech rate this project measures (docs/activations.md). The windows GE2E embeds are cut in
`rateprobe.encoders.resemblyzer`.
"""

from __future__ import annotations

import math

import kaldi_native_fbank as knf
import numpy as np
import torch

SAMPLE_RATE = 16000
INT16_SCALE = 32768.0
FRAME_SAMPLES = 400  # 25 ms at 16 kHz
HOP_SAMPLES = 160  # 10 ms at 16 kHz

WESPEAKER_MEL_BINS = 80
WESPEAKER_FRONTEND = (
    "kaldi fbank 80 bins, 25/10 ms, hamming, dither 0, int16 scale, utterance mean removed"
)
THREED_SPEAKER_FRONTEND = (
    "kaldi fbank 80 bins, 25/10 ms, povey window, dither 0, [-1, 1] scale, utterance mean removed"
)

RESEMBLYZER_MEL_BINS = 40


def _fbank_options(window_type: str) -> knf.FbankOptions:
    options = knf.FbankOptions()
    options.frame_opts.samp_freq = SAMPLE_RATE
    options.frame_opts.frame_length_ms = 25.0
    options.frame_opts.frame_shift_ms = 10.0
    options.frame_opts.dither = 0.0
    options.frame_opts.window_type = window_type
    options.mel_opts.num_bins = WESPEAKER_MEL_BINS
    options.use_energy = False
    return options


def _normalised_kaldi_fbank(waveform: np.ndarray, window_type: str, scale: float) -> np.ndarray:
    if len(waveform) < FRAME_SAMPLES:
        raise ValueError(
            f"audio of {len(waveform)} samples is shorter than one 25 ms frame "
            f"({FRAME_SAMPLES} samples)"
        )
    fbank = knf.OnlineFbank(_fbank_options(window_type))
    fbank.accept_waveform(SAMPLE_RATE, (waveform.astype(np.float32) * scale).tolist())
    fbank.input_finished()
    features = np.stack([fbank.get_frame(i) for i in range(fbank.num_frames_ready)])
    features = features.astype(np.float32)
    return features - features.mean(axis=0, keepdims=True)


def wespeaker_fbank(waveform: np.ndarray) -> np.ndarray:
    """(frames, 80) float32 mean-normalised log-mel filterbank of a 16 kHz float waveform."""
    return _normalised_kaldi_fbank(waveform, "hamming", INT16_SCALE)


def threed_speaker_fbank(waveform: np.ndarray) -> np.ndarray:
    """(frames, 80) float32 fbank as 3D-Speaker's inference computes it (see the module doc)."""
    return _normalised_kaldi_fbank(waveform, "povey", 1.0)


def _hz_to_slaney_mel(hz: np.ndarray) -> np.ndarray:
    # Slaney's scale: linear up to 1 kHz, logarithmic above (27 mel per 6.4x in frequency).
    linear_step = 200.0 / 3
    log_start_hz = 1000.0
    log_step = math.log(6.4) / 27.0
    mel = hz / linear_step
    above = hz >= log_start_hz
    mel[above] = log_start_hz / linear_step + np.log(hz[above] / log_start_hz) / log_step
    return mel


def _slaney_mel_to_hz(mel: np.ndarray) -> np.ndarray:
    linear_step = 200.0 / 3
    log_start_hz = 1000.0
    log_start_mel = log_start_hz / linear_step
    log_step = math.log(6.4) / 27.0
    hz = mel * linear_step
    above = mel >= log_start_mel
    hz[above] = log_start_hz * np.exp(log_step * (mel[above] - log_start_mel))
    return hz


def slaney_mel_filters(n_fft: int, n_mels: int, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) triangular filters, each scaled to unit area (Slaney norm)."""
    fft_hz = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    edges_mel = np.linspace(0.0, _hz_to_slaney_mel(np.array([sample_rate / 2]))[0], n_mels + 2)
    edges_hz = _slaney_mel_to_hz(edges_mel)
    widths = np.diff(edges_hz)
    distance = edges_hz[:, None] - fft_hz[None, :]
    rising = -distance[:-2] / widths[:-1, None]
    falling = distance[2:] / widths[1:, None]
    filters = np.maximum(0.0, np.minimum(rising, falling))
    filters *= (2.0 / (edges_hz[2:] - edges_hz[:-2]))[:, None]
    return filters.astype(np.float32)


_RESEMBLYZER_FILTERS = torch.from_numpy(slaney_mel_filters(FRAME_SAMPLES, RESEMBLYZER_MEL_BINS))


def resemblyzer_mel(waveform: np.ndarray) -> np.ndarray:
    """(frames, 40) float32 mel power spectrogram of a 16 kHz waveform at its own level, as
    Resemblyzer's `wav_to_mel_spectrogram` (centred frames zero-padded at both ends)."""
    spectrum = torch.stft(
        torch.from_numpy(waveform.astype(np.float32)),
        n_fft=FRAME_SAMPLES,
        hop_length=HOP_SAMPLES,
        window=torch.hann_window(FRAME_SAMPLES, periodic=True),
        center=True,
        pad_mode="constant",
        return_complex=True,
    )
    power = spectrum.real.square() + spectrum.imag.square()
    return (_RESEMBLYZER_FILTERS @ power).T.contiguous().numpy()
