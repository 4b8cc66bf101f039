"""CAM++: equal to WeSpeaker's own CAMPPlus (random and published weights), batched as alone,
its embedding as 3D-Speaker computes it, and its checkpoints loaded from every source."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml
from encoder_support import (
    RawRecorder,
    librispeech_sample_files,
    load_official_model_module,
    load_torchaudio_kaldi,
    needs_official_wespeaker,
    randomise_batchnorm,
    relative_error,
    speech_like_waveform,
)

from rateprobe.activations import extract_taps
from rateprobe.encoders import load_encoder, load_wespeaker_encoder, random_encoder
from rateprobe.encoders.campplus import CAMPPlus
from rateprobe.encoders.checkpoints import CheckpointError
from rateprobe.frontend import threed_speaker_fbank

torch.set_num_threads(2)

# The official module's submodule whose output each of our taps is.
OFFICIAL_TAP_MODULES = {
    "head": "head",
    "tdnn": "xvector.tdnn",
    **{f"{kind}{i}": f"xvector.{kind}{i}" for i in (1, 2, 3) for kind in ("block", "transit")},
    "out_nonlinear": "xvector.out_nonlinear",
    "pool": "xvector.stats",
    "embedding": "xvector.dense",
}


def official_outputs(official: torch.nn.Module, features: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every tapped submodule's output of one official forward pass."""
    outputs: dict[str, torch.Tensor] = {}
    handles = []
    for tap, path in OFFICIAL_TAP_MODULES.items():

        def keep(module, inputs, output, tap=tap):
            outputs[tap] = output.detach().clone()

        handles.append(official.get_submodule(path).register_forward_hook(keep))
    with torch.inference_mode():
        official(features)
    for handle in handles:
        handle.remove()
    return outputs


def official_twin(ours: CAMPPlus, embed_dim: int) -> torch.nn.Module:
    official = load_official_model_module("campplus").CAMPPlus(feat_dim=80, embed_dim=embed_dim)
    official.load_state_dict(ours.state_dict(), strict=True)
    return official.eval()


def assert_every_tap_matches(ours: CAMPPlus, embed_dim: int, frames: int, seed: int) -> None:
    official = official_twin(ours, embed_dim)
    features = torch.randn(1, frames, 80, generator=torch.Generator().manual_seed(seed))
    expected = official_outputs(official, features)
    recorder = RawRecorder()
    with torch.inference_mode():
        ours(features, torch.tensor([frames]), recorder)
    assert list(recorder.activations) == ours.tap_names()
    for tap, activation in recorder.activations.items():
        assert activation.shape == expected[tap].shape, tap
        assert relative_error(activation, expected[tap]) <= 1e-5, tap


@pytest.fixture(scope="module")
def random_campplus() -> CAMPPlus:
    model = random_encoder("campplus", seed=1)
    assert isinstance(model, CAMPPlus)
    randomise_batchnorm(model, seed=2)
    return model.eval()


@needs_official_wespeaker
@pytest.mark.parametrize("frames", [257, 41])  # several 100-frame CAM segments; one short one
def test_random_campplus_matches_official_wespeaker(random_campplus: CAMPPlus, frames: int) -> None:
    assert_every_tap_matches(random_campplus, 512, frames, seed=frames)


@needs_official_wespeaker
def test_published_campplus_matches_official_wespeaker(campplus_state_dict: Path) -> None:
    model = load_encoder(campplus_model_entry(), campplus_state_dict)
    assert isinstance(model, CAMPPlus)
    assert_every_tap_matches(model, 192, 310, seed=4)


def test_a_padded_batch_gives_each_utterance_its_own_output(random_campplus: CAMPPlus) -> None:
    # 403 frames: 202 after the strided TDNN, so the last CAM segment holds 2 real frames.
    lengths = [403, 250, 199, 37]
    generator = torch.Generator().manual_seed(5)
    utterances = [torch.randn(n, 80, generator=generator) for n in lengths]
    batch = torch.zeros(len(lengths), max(lengths), 80)
    for index, features in enumerate(utterances):
        batch[index, : len(features)] = features
    batched, alone = RawRecorder(), RawRecorder()
    with torch.inference_mode():
        random_campplus(batch, torch.tensor(lengths), batched)
        for index, features in enumerate(utterances):
            random_campplus(features[None], torch.tensor([len(features)]), alone)
            for tap, activation in alone.activations.items():
                # Frame-level taps are cut to the utterance's frames (the last axis is time).
                ours = batched.activations[tap][index : index + 1, ..., : activation.shape[-1]]
                assert relative_error(ours, activation) <= 1e-5, (tap, lengths[index])


def campplus_model_entry() -> dict:
    """The default config's pretrained CAM++ entry, as the pipeline resolves it."""
    entries = yaml.safe_load((Path(__file__).parents[1] / "config.yaml").read_text())["models"]
    entry = next(m for m in entries if m["name"] == "campplus")
    return {**entry, "source_kind": "pypi"}


@needs_official_wespeaker
def test_pipeline_embedding_is_3d_speakers_inference(campplus_state_dict: Path) -> None:
    """Its frontend and whole-utterance forward, as the pipeline runs them in batches, give the
    embedding of 3D-Speaker's inference: torchaudio's Kaldi fbank with its defaults on [-1, 1]
    samples, the utterance mean removed, the official module on the whole utterance."""
    kaldi = load_torchaudio_kaldi()
    if kaldi is None:
        pytest.skip("torchaudio's compliance/kaldi.py not in .test-extras/ (bin/setup --test)")
    files = librispeech_sample_files()[:3]
    waveforms = [sf.read(f, dtype="float32")[0] for f in files] or [
        speech_like_waveform(seconds, seed=i) for i, seconds in enumerate((4.0, 2.5))
    ]
    encoder = load_encoder(campplus_model_entry(), campplus_state_dict)
    official = official_twin(encoder, 192)  # type: ignore[arg-type]
    durations = [len(w) / 16000 for w in waveforms]
    ours = extract_taps(
        encoder, waveforms.__getitem__, durations, ["embedding"], ("mean",), 8, torch.device("cpu")
    )["embedding"]
    for index, waveform in enumerate(waveforms):
        fbank = kaldi.fbank(torch.from_numpy(waveform)[None], num_mel_bins=80, dither=0.0)
        with torch.inference_mode():
            expected = official((fbank - fbank.mean(dim=0, keepdim=True))[None])
        # kaldi-native-fbank and torchaudio agree to ~3e-4 per bin; the rest is the model's.
        assert relative_error(torch.from_numpy(ours[index]), expected[0]) <= 1e-3
    # The frontend itself, against the same reference.
    fbank = kaldi.fbank(torch.from_numpy(waveforms[0])[None], num_mel_bins=80, dither=0.0).numpy()
    difference = np.abs(threed_speaker_fbank(waveforms[0]) - (fbank - fbank.mean(axis=0))).max()
    assert difference <= 1e-3


def test_published_weights_tell_librispeech_speakers_apart(
    campplus_state_dict: Path,
) -> None:
    """Two utterances of one LibriSpeech speaker are closer than utterances of two speakers
    under the published weights; a sanity check that the weights and frontend belong together."""
    files = librispeech_sample_files()
    if len(files) < 4:
        pytest.skip("../shared/librispeech-sample absent")
    waveforms = [sf.read(f, dtype="float32")[0] for f in files[:12]]
    halves = [w[: len(w) // 2] for w in waveforms] + [w[len(w) // 2 :] for w in waveforms]
    durations = [len(w) / 16000 for w in halves]
    pretrained = load_encoder(campplus_model_entry(), campplus_state_dict)
    embeddings = extract_taps(
        pretrained, halves.__getitem__, durations, ["embedding"], ("mean",), 8, torch.device("cpu")
    )["embedding"]
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    cosine = unit[:12] @ unit[12:].T  # first halves vs second halves: same speaker on the diagonal
    same, different = np.diag(cosine), cosine[~np.eye(12, dtype=bool)]
    assert same.min() > np.quantile(different, 0.95)


@needs_official_wespeaker
def test_a_wespeaker_campplus_folder_and_zip_load(
    tmp_path: Path, random_campplus: CAMPPlus
) -> None:
    folder = tmp_path / "voxceleb_CAM++"
    folder.mkdir()
    config = {
        "model": "CAMPPlus",
        "model_args": {"feat_dim": 80, "embed_dim": 512, "pooling_func": "TSTP"},
        "projection_args": {"project_type": "arc_margin"},
    }
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    state = {**random_campplus.state_dict(), "projection.weight": torch.zeros(10, 512)}
    torch.save(state, folder / "avg_model.pt")
    archive = tmp_path / "voxceleb_CAM++.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for name in ("config.yaml", "avg_model.pt"):
            bundle.write(folder / name, f"voxceleb_CAM++/{name}")
    features = torch.randn(1, 120, 80, generator=torch.Generator().manual_seed(6))
    with torch.inference_mode():
        expected = random_campplus(features, torch.tensor([120]))
        for source in (folder, archive):
            loaded = load_wespeaker_encoder(source, "campplus").eval()
            assert isinstance(loaded, CAMPPlus)
            loaded_state = loaded.state_dict()
            assert loaded_state.keys() == random_campplus.state_dict().keys()
            for name, tensor in random_campplus.state_dict().items():
                assert torch.equal(loaded_state[name], tensor), name
            # Same weights, same input: bit-equal when this test runs alone, but in one run of
            # the whole suite on an Intel Xeon VM the outputs differed in their last bits.
            torch.testing.assert_close(
                loaded(features, torch.tensor([120])), expected, rtol=1e-5, atol=1e-6
            )


def test_a_campplus_config_with_other_pooling_names_it(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    model_args = {"feat_dim": 80, "embed_dim": 512, "pooling_func": "ASTP"}
    (folder / "config.yaml").write_text(
        yaml.safe_dump({"model": "CAMPPlus", "model_args": model_args})
    )
    torch.save(random_encoder("campplus", seed=0).state_dict(), folder / "avg_model.pt")
    problem = r"config.yaml \(model CAMPPlus\): .*TSTP pooling only, not 'ASTP'"
    with pytest.raises(CheckpointError, match=problem):
        load_wespeaker_encoder(folder)


def test_a_state_dict_of_another_size_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "state_dict.pt"
    torch.save(random_encoder("campplus", seed=0).state_dict(), path)  # embed_dim 512
    entry = {**campplus_model_entry(), "name": "campplus"}  # model_args: embed_dim 192
    with pytest.raises(
        CheckpointError, match=r"state_dict.pt: tensor shapes do not match campplus"
    ):
        load_encoder(entry, path)
