"""Frontends: WeSpeaker's Kaldi fbank and Resemblyzer's mel spectrogram, checked independently."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile as sf
from encoder_support import librispeech_sample_files, speech_like_waveform

from rateprobe.frontend import resemblyzer_mel, slaney_mel_filters, wespeaker_fbank


def kaldi_fbank_reference(waveform: np.ndarray) -> np.ndarray:
    """Kaldi's fbank written out step by step in float64 (as torchaudio's kaldi.fbank does it).

    Whole 25 ms frames every 10 ms, DC removed, pre-emphasis 0.97, Hamming window, 512-point
    power spectrum, 80 triangular filters on Kaldi's mel scale 1127 ln(1 + f/700) from 20 Hz to
    Nyquist, natural log floored at float32 epsilon, then the utterance mean removed.
    """
    samples = waveform.astype(np.float64) * 32768.0
    n_frames = 1 + (len(samples) - 400) // 160
    frames = np.stack([samples[i * 160 : i * 160 + 400] for i in range(n_frames)])
    frames = frames - frames.mean(axis=1, keepdims=True)
    frames = np.concatenate([frames[:, :1] * 0.03, frames[:, 1:] - 0.97 * frames[:, :-1]], axis=1)
    frames = frames * (0.54 - 0.46 * np.cos(2 * np.pi * np.arange(400) / 399))
    power = np.abs(np.fft.rfft(frames, n=512, axis=1)) ** 2

    def mel(hz: np.ndarray) -> np.ndarray:
        return 1127.0 * np.log(1.0 + hz / 700.0)

    edges = np.linspace(mel(np.array(20.0)), mel(np.array(8000.0)), 82)
    bin_mel = mel(np.arange(256) * 16000 / 512)
    filters = np.zeros((80, 257))
    for m in range(80):
        left, centre, right = edges[m], edges[m + 1], edges[m + 2]
        rising = (bin_mel - left) / (centre - left)
        falling = (right - bin_mel) / (right - centre)
        inside = (bin_mel > left) & (bin_mel < right)
        filters[m, :256] = np.where(inside, np.where(bin_mel <= centre, rising, falling), 0.0)
    energies = np.maximum(power @ filters.T, np.finfo(np.float32).eps)
    log_energies = np.log(energies)
    return log_energies - log_energies.mean(axis=0, keepdims=True)


def test_one_second_gives_98_frames_of_80_bins() -> None:
    features = wespeaker_fbank(speech_like_waveform(1.0, seed=0))
    assert features.shape == (98, 80)
    assert features.dtype == np.float32
    np.testing.assert_allclose(features.mean(axis=0), 0.0, atol=1e-4)


def test_fbank_matches_kaldi_on_synthetic_audio() -> None:
    waveform = speech_like_waveform(2.0, seed=1)
    assert np.abs(wespeaker_fbank(waveform) - kaldi_fbank_reference(waveform)).max() <= 1e-3


@pytest.mark.skipif(not librispeech_sample_files(), reason="../shared/librispeech-sample absent")
def test_fbank_matches_kaldi_on_real_speech() -> None:
    for path in librispeech_sample_files()[:3]:
        waveform, rate = sf.read(path, dtype="float32")
        assert rate == 16000
        difference = np.abs(wespeaker_fbank(waveform) - kaldi_fbank_reference(waveform)).max()
        assert difference <= 1e-3, f"{path}: max abs difference {difference:.2e}"


def test_fbank_sees_int16_scale_audio() -> None:
    # The floor at float32 epsilon only bites on [-1, 1]-scale samples: a faint signal keeps its
    # spectral shape at int16 scale, so scaling it by 1000 changes nothing after mean removal.
    faint = 1e-4 * speech_like_waveform(1.0, seed=2)
    np.testing.assert_allclose(wespeaker_fbank(faint), wespeaker_fbank(1000 * faint), atol=1e-3)


def test_short_audio_is_refused() -> None:
    with pytest.raises(ValueError, match="shorter than one 25 ms frame"):
        wespeaker_fbank(np.zeros(399, dtype=np.float32))


def test_slaney_filters_match_librosa() -> None:
    librosa = pytest.importorskip("librosa")
    expected = librosa.filters.mel(sr=16000, n_fft=400, n_mels=40)
    np.testing.assert_allclose(slaney_mel_filters(400, 40), expected, rtol=1e-5, atol=1e-8)


@pytest.mark.skipif(not librispeech_sample_files(), reason="../shared/librispeech-sample absent")
def test_resemblyzer_mel_matches_resemblyzer_on_real_speech() -> None:
    audio = pytest.importorskip("resemblyzer.audio")
    for path in librispeech_sample_files()[:3]:
        waveform, _ = sf.read(path, dtype="float32")
        prepared = audio.normalize_volume(waveform, -30, increase_only=True)
        expected = audio.wav_to_mel_spectrogram(prepared)
        ours = resemblyzer_mel(waveform)
        assert ours.shape == expected.shape == (1 + len(waveform) // 160, 40)
        assert np.abs(ours - expected).max() <= 1e-5 * np.abs(expected).max()


def test_resemblyzer_mel_raises_quiet_audio_only() -> None:
    loud = speech_like_waveform(1.0, seed=3) * 3
    quiet = loud / 100
    assert 20 * math.log10(float(np.sqrt(np.mean(loud**2)))) > -30
    np.testing.assert_allclose(resemblyzer_mel(quiet), resemblyzer_mel(quiet * 10), rtol=1e-4)
    assert not np.allclose(resemblyzer_mel(loud), resemblyzer_mel(loud / 2), rtol=1e-2)
