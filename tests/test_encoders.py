"""Encoders: equivalence with the official WeSpeaker code and Resemblyzer, checkpoint loading."""

from __future__ import annotations

import inspect
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml
from encoder_support import (
    RawRecorder,
    kaldi_reference_module,
    librispeech_sample_files,
    load_official_samresnet,
    load_official_speaker,
    load_torchaudio_kaldi,
    needs_official_wespeaker,
    randomise_batchnorm,
    relative_error,
    speech_like_waveform,
)

from rateprobe.activations import extract_taps
from rateprobe.encoders import SpeakerEncoder, load_encoder, load_wespeaker_encoder, random_encoder
from rateprobe.encoders.checkpoints import CHECKPOINT_FILES, CheckpointError
from rateprobe.encoders.resemblyzer import PARTIAL_FRAMES, partial_mels, partial_starts

OFFICIAL_CLASSES = {"samresnet34": "SimAM_ResNet34_ASP", "samresnet100": "SimAM_ResNet100_ASP"}

torch.set_num_threads(2)


needs_librispeech = pytest.mark.skipif(
    not librispeech_sample_files(), reason="../shared/librispeech-sample absent"
)
AUDIO = [pytest.param("librispeech", marks=needs_librispeech), "synthetic"]


def pipeline_taps(
    encoder: SpeakerEncoder, waveforms: list[np.ndarray], taps: list[str]
) -> dict[str, np.ndarray]:
    """The taps as the pipeline extracts them: its frontend, batched, all taps in one pass."""
    durations = [len(w) / 16000 for w in waveforms]
    return extract_taps(
        encoder, waveforms.__getitem__, durations, taps, ("mean", "std"), 8, torch.device("cpu")
    )


@needs_official_wespeaker
@pytest.mark.parametrize(("arch", "frames"), [("samresnet34", 200), ("samresnet100", 120)])
def test_samresnet_matches_official_wespeaker(arch: str, frames: int) -> None:
    official_module = load_official_samresnet()
    ours = random_encoder(arch, seed=1)
    randomise_batchnorm(ours, seed=2)
    official = getattr(official_module, OFFICIAL_CLASSES[arch])(
        in_planes=64, embed_dim=256, acoustic_dim=80
    )
    official.load_state_dict(ours.state_dict(), strict=True)
    ours.eval()
    official.eval()

    official_outputs: dict[str, torch.Tensor] = {}

    def keep(name: str):
        def hook(module, inputs, output):
            official_outputs[name] = output.detach().clone()

        return hook

    official.front.relu.register_forward_hook(keep("stem"))
    for stage_name in ("layer1", "layer2", "layer3", "layer4"):
        for index, block in enumerate(getattr(official.front, stage_name)):
            block.register_forward_hook(keep(f"{stage_name}.{index}"))
    official.pooling.register_forward_hook(keep("pool"))

    features = torch.randn(1, frames, 80, generator=torch.Generator().manual_seed(3))
    recorder = RawRecorder()
    with torch.inference_mode():
        official_embedding = official(features)
        our_embedding = ours(features, torch.tensor([frames]), recorder)

    assert relative_error(our_embedding, official_embedding) <= 1e-5
    block_names = [n for n in ours.tap_names() if n.startswith("layer")]
    assert len(block_names) == sum(len(getattr(official.front, f"layer{s}")) for s in range(1, 5))
    for name in ["stem", *block_names, "pool"]:
        assert recorder.activations[name].shape == official_outputs[name].shape, name
        assert relative_error(recorder.activations[name], official_outputs[name]) <= 1e-5, name


def write_checkpoint_folder(
    folder: Path, state: dict[str, torch.Tensor], model_class: str = "SimAM_ResNet34_ASP"
) -> Path:
    folder.mkdir(parents=True)
    config = {
        "model": model_class,
        "model_args": {"in_planes": 64, "embed_dim": 256, "acoustic_dim": 80},
        "projection_args": {"project_type": "arc_margin"},
    }
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    torch.save(state, folder / "avg_model.pt")
    return folder


def official_state(seed: int) -> dict[str, torch.Tensor]:
    """A SimAM-ResNet34 state dict as WeSpeaker saves it: with the classification head."""
    model = random_encoder("samresnet34", seed)
    randomise_batchnorm(model, seed)
    state = dict(model.state_dict())
    state["projection.weight"] = torch.randn(10, 256)
    return state


def test_checkpoint_folder_and_zip_load_the_backbone(tmp_path: Path) -> None:
    state = official_state(seed=4)
    folder = write_checkpoint_folder(tmp_path / "voxblink2_samresnet34", state)
    archive = tmp_path / "voxblink2_samresnet34.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for name in ("config.yaml", "avg_model.pt"):
            zipped.write(folder / name, f"voxblink2_samresnet34/{name}")

    for source in (folder, archive):
        model = {"name": "m", "source": str(source), "source_kind": "path"}
        encoder = load_encoder(model, source)
        assert encoder.arch == "samresnet34" and not encoder.training
        loaded = encoder.state_dict()
        assert set(loaded) == set(state) - {"projection.weight"}
        assert all(torch.equal(loaded[k], state[k]) for k in loaded)


def test_mismatched_checkpoint_names_missing_and_unexpected_keys(tmp_path: Path) -> None:
    state = official_state(seed=5)
    del state["front.layer3.5.bn2.running_var"]
    state["front.layer5.0.conv1.weight"] = torch.zeros(1)
    folder = write_checkpoint_folder(tmp_path / "broken", state)
    with pytest.raises(CheckpointError) as raised:
        load_wespeaker_encoder(folder)
    message = str(raised.value)
    assert str(folder) in message
    assert "front.layer3.5.bn2.running_var" in message
    assert "front.layer5.0.conv1.weight" in message


def test_checkpoint_of_the_wrong_architecture_is_refused(tmp_path: Path) -> None:
    state = official_state(seed=6)
    folder = write_checkpoint_folder(tmp_path / "r100", state, model_class="SimAM_ResNet100_ASP")
    with pytest.raises(CheckpointError, match="missing keys"):
        load_wespeaker_encoder(folder)
    unknown = write_checkpoint_folder(tmp_path / "ecapa", state, model_class="ECAPA_TDNN")
    with pytest.raises(CheckpointError, match="ECAPA_TDNN"):
        load_wespeaker_encoder(unknown)


BROKEN_CHECKPOINTS = {
    "config not a mapping": ("config.yaml", b"- SimAM_ResNet34_ASP\n", "config.yaml holds a list"),
    "config not YAML": ("config.yaml", b"model: [unclosed\n", "config.yaml is not valid YAML"),
    "model_args not a mapping": (
        "config.yaml", b"model: SimAM_ResNet34_ASP\nmodel_args: 64\n",
        "config.yaml model_args is not a mapping: 64",
    ),
    "bare tensor": (
        "avg_model.pt", torch.zeros(3), "avg_model.pt holds a Tensor, not a state dict"
    ),
    "training checkpoint": (
        "avg_model.pt", {"epoch": 3, "model": {}},
        "avg_model.pt is not a state dict: entry 'epoch' is not a tensor but int",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", BROKEN_CHECKPOINTS, ids=list(BROKEN_CHECKPOINTS))
def test_a_broken_checkpoint_names_the_file_and_the_problem(tmp_path: Path, case: str) -> None:
    filename, content, problem = BROKEN_CHECKPOINTS[case]
    folder = write_checkpoint_folder(tmp_path / "model", official_state(seed=7))
    if isinstance(content, bytes):
        (folder / filename).write_bytes(content)
    else:
        torch.save(content, folder / filename)
    archive = tmp_path / "model.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for name in CHECKPOINT_FILES:
            zipped.write(folder / name, f"model/{name}")
    for source in (folder, archive):
        with pytest.raises(CheckpointError, match=re.escape(f"{source}: {problem}")):
            load_wespeaker_encoder(source)


def test_broken_resemblyzer_weights_name_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    weights = tmp_path / "pretrained.pt"
    monkeypatch.setattr("rateprobe.encoders.packaged_weights_path", lambda: weights)
    model = {"name": "r", "source": "resemblyzer", "source_kind": "resemblyzer"}
    torch.save(torch.zeros(3), weights)
    with pytest.raises(CheckpointError, match=re.escape(f"{weights}: not Resemblyzer's weights")):
        load_encoder(model)
    torch.save({"model_state": torch.zeros(3)}, weights)
    with pytest.raises(CheckpointError, match=re.escape(f"{weights}: model_state holds a Tensor")):
        load_encoder(model)


def test_random_encoder_is_seeded_and_leaves_global_rng_alone() -> None:
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    first = random_encoder("resemblyzer", seed=7).state_dict()
    assert torch.equal(torch.rand(1), expected_next)
    again = random_encoder("resemblyzer", seed=7).state_dict()
    other = random_encoder("resemblyzer", seed=8).state_dict()
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not torch.equal(first["lstm1.weight_ih_l0"], other["lstm1.weight_ih_l0"])


def librispeech(count: int) -> list[np.ndarray]:
    """`count` whole utterances of speakers spread over the LibriSpeech sample."""
    files = librispeech_sample_files()
    return [sf.read(path, dtype="float32")[0] for path in files[:: len(files) // count][:count]]


def synthetic(durations: list[float]) -> list[np.ndarray]:
    """Speech-like waveforms on the int16 grid, as a 16-bit file holds them."""
    return [
        np.round(speech_like_waveform(seconds, seed=index) * 32768).astype(np.float32) / 32768
        for index, seconds in enumerate(durations)
    ]


@needs_official_wespeaker
@pytest.mark.parametrize("fbank", ["kaldi step by step", "torchaudio"])
@pytest.mark.parametrize("audio", AUDIO)
def test_samresnet_pipeline_equals_official_wespeaker_inference(
    tmp_path: Path, fbank: str, audio: str
) -> None:
    """Frontend + model as the pipeline runs them give the embedding of WeSpeaker's own
    `Speaker.extract_embedding_from_pcm` (what `wespeaker --task embedding` runs on a file's
    16-bit samples): its checkpoint loading, its fbank call and mean removal, its model."""
    kaldi = kaldi_reference_module() if fbank == "kaldi step by step" else load_torchaudio_kaldi()
    if kaldi is None:
        pytest.skip(
            "torchaudio's compliance/kaldi.py not in .test-extras/ "
            "(pip install --no-deps --target .test-extras torchaudio==2.11.0)"
        )
    if audio == "librispeech":
        waveforms = [waveform[: 3 * 16000] for waveform in librispeech(2)]
    else:
        waveforms = synthetic([3.0, 1.2])
    folder = write_checkpoint_folder(tmp_path / "model", official_state(seed=9))
    speaker = load_official_speaker(kaldi)(str(folder))
    encoder = load_encoder({"name": "model", "source": str(folder), "source_kind": "path"}, folder)
    ours = pipeline_taps(encoder, waveforms, ["embedding"])["embedding"]
    for index, waveform in enumerate(waveforms):
        pcm = torch.from_numpy(waveform * 32768)[None]  # torchaudio.load(normalize=False)
        expected = speaker.extract_embedding_from_pcm(pcm, 16000)
        assert relative_error(torch.from_numpy(ours[index]), expected) <= 1e-5


def test_partial_windows_are_those_of_embed_utterance() -> None:
    from resemblyzer import VoiceEncoder

    defaults = inspect.signature(VoiceEncoder.embed_utterance).parameters
    rate, min_coverage = defaults["rate"].default, defaults["min_coverage"].default
    # Every length up to 3.8 s: one to four windows, each coverage threshold crossed.
    for n_samples in range(400, 60_000):
        _, mel_slices = VoiceEncoder.compute_partial_slices(n_samples, rate, min_coverage)
        assert partial_starts(n_samples) == [s.start for s in mel_slices], n_samples
    assert partial_starts(16_000 * 10) == list(range(0, 848, 77))  # 12 windows for 10 s


def voice_encoder_with(encoder: SpeakerEncoder, weights: str):
    """Resemblyzer's VoiceEncoder with its packaged weights, or with the random control's."""
    from resemblyzer import VoiceEncoder

    reference = VoiceEncoder(device="cpu", verbose=False).eval()
    if weights == "random":
        with torch.no_grad():
            for layer in range(3):
                for name, value in getattr(encoder, f"lstm{layer + 1}").named_parameters():
                    getattr(reference.lstm, name.replace("_l0", f"_l{layer}")).copy_(value)
            reference.linear.load_state_dict(encoder.linear.state_dict())
    return reference


def package_partials(reference, waveform: np.ndarray) -> tuple[np.ndarray, ...]:
    """embed_utterance's own run: its windows' mel frames, its LSTM's output over them, and
    the embedding it returns."""
    captured = []
    hook = reference.lstm.register_forward_hook(
        lambda module, inputs, output: captured.append((inputs[0].numpy(), output[0].numpy()))
    )
    try:
        embedding = reference.embed_utterance(waveform)
    finally:
        hook.remove()
    ((mels, outputs),) = captured
    return mels, outputs, embedding


@pytest.mark.parametrize("weights", ["pretrained", "random"])
@pytest.mark.parametrize("audio", AUDIO)
def test_ge2e_embedding_and_taps_are_those_of_embed_utterance(weights: str, audio: str) -> None:
    """The pipeline's GE2E embedding is Resemblyzer's embed_utterance of the waveform as read,
    for the packaged weights and for the random control; its frontend gives the windows the
    package feeds its network, and the lstm3 tap pools the package's own LSTM output."""
    waveforms = librispeech(4) if audio == "librispeech" else synthetic([0.3, 1.6, 2.41, 7.0])
    waveforms.append(waveforms[-1] * 0.01)  # far below -30 dBFS: its level must stay as read
    if weights == "pretrained":
        encoder = load_encoder(
            {"name": "resemblyzer", "source": "resemblyzer", "source_kind": "resemblyzer"}
        )
    else:
        encoder = random_encoder("resemblyzer", seed=3).eval()
    reference = voice_encoder_with(encoder, weights)
    pooled = pipeline_taps(encoder, waveforms, encoder.tap_names())
    for index, waveform in enumerate(waveforms):
        mels, outputs, expected = package_partials(reference, waveform)
        ours = partial_mels(waveform).reshape(-1, PARTIAL_FRAMES, mels.shape[2])
        assert ours.shape == mels.shape
        assert np.abs(ours - mels).max() <= 1e-5 * np.abs(mels).max()
        assert np.abs(pooled["embedding"][index] - expected).max() <= 1e-5
        frames = outputs.reshape(-1, outputs.shape[2]).astype(np.float64)
        lstm3 = np.concatenate([frames.mean(axis=0), frames.std(axis=0)])
        tap = torch.from_numpy(pooled["lstm3"][index])
        assert relative_error(tap.double(), torch.from_numpy(lstm3)) <= 1e-5
