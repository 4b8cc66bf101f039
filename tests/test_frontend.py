"""Frontends: WeSpeaker's Kaldi fbank and Resemblyzer's mel spectrogram, checked independently."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch
from encoder_support import (
    kaldi_log_mel,
    librispeech_sample_files,
    load_torchaudio_kaldi,
    speech_like_waveform,
)

from rateprobe.frontend import resemblyzer_mel, slaney_mel_filters, wespeaker_fbank


def kaldi_fbank_reference(waveform: np.ndarray) -> np.ndarray:
    """Kaldi fbank of a [-1, 1] waveform at int16 scale, the utterance mean removed."""
    log_mel = kaldi_log_mel(waveform * 32768.0)
    return log_mel - log_mel.mean(axis=0, keepdims=True)


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


def test_fbank_and_kaldi_reference_match_torchaudio() -> None:
    """torchaudio's kaldi.fbank, called with WeSpeaker's arguments, is the official frontend."""
    kaldi = load_torchaudio_kaldi()
    if kaldi is None:
        pytest.skip("torchaudio's compliance/kaldi.py not in .test-extras/")
    waveforms = [speech_like_waveform(2.0, seed=4)]
    waveforms += [sf.read(path, dtype="float32")[0] for path in librispeech_sample_files()[:2]]
    for waveform in waveforms:
        samples = waveform * 32768.0
        official = kaldi.fbank(
            torch.from_numpy(samples)[None],
            num_mel_bins=80,
            frame_length=25,
            frame_shift=10,
            dither=0.0,
            sample_frequency=16000,
            window_type="hamming",
        ).numpy()
        assert np.abs(kaldi_log_mel(samples) - official).max() <= 1e-3
        normalised = official - official.mean(axis=0, keepdims=True)
        assert np.abs(wespeaker_fbank(waveform) - normalised).max() <= 1e-3


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
        # The waveform as read, as embed_utterance receives it (no preprocess_wav).
        expected = audio.wav_to_mel_spectrogram(waveform)
        ours = resemblyzer_mel(waveform)
        assert ours.shape == expected.shape == (1 + len(waveform) // 160, 40)
        assert np.abs(ours - expected).max() <= 1e-5 * np.abs(expected).max()


def test_resemblyzer_mel_keeps_the_level_of_the_audio() -> None:
    loud = speech_like_waveform(1.0, seed=3)
    # A power spectrogram: half the amplitude is a quarter of the power, quiet audio included.
    np.testing.assert_allclose(resemblyzer_mel(loud / 2), resemblyzer_mel(loud) / 4, rtol=1e-4)
    np.testing.assert_allclose(
        resemblyzer_mel(loud / 200), resemblyzer_mel(loud) / 40000, rtol=1e-3, atol=1e-12
    )
