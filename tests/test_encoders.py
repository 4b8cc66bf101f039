"""Encoders: equivalence with the official WeSpeaker code and Resemblyzer, checkpoint loading."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml
from encoder_support import (
    OFFICIAL_MODELS,
    RawRecorder,
    librispeech_sample_files,
    load_official_samresnet,
    randomise_batchnorm,
)

from rateprobe.encoders import load_encoder, load_wespeaker_encoder, random_encoder
from rateprobe.encoders.checkpoints import CheckpointError
from rateprobe.frontend import resemblyzer_mel

OFFICIAL_CLASSES = {"samresnet34": "SimAM_ResNet34_ASP", "samresnet100": "SimAM_ResNet100_ASP"}

torch.set_num_threads(2)


def relative_error(ours: torch.Tensor, reference: torch.Tensor) -> float:
    return float((ours - reference).abs().max() / reference.abs().max())


@pytest.mark.skipif(
    not OFFICIAL_MODELS.is_dir(),
    reason=f"official WeSpeaker code not installed at {OFFICIAL_MODELS} (bin/setup --test)",
)
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
        encoder = load_encoder(model)
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


@pytest.mark.skipif(not librispeech_sample_files(), reason="../shared/librispeech-sample absent")
def test_resemblyzer_matches_its_voice_encoder_on_real_speech() -> None:
    from resemblyzer import VoiceEncoder

    reference = VoiceEncoder(device="cpu", verbose=False).eval()
    ours = load_encoder(
        {"name": "resemblyzer", "source": "resemblyzer", "source_kind": "resemblyzer"}
    )
    for path in librispeech_sample_files()[:2]:
        waveform, rate = sf.read(path, dtype="float32")
        assert rate == 16000
        mel = torch.from_numpy(resemblyzer_mel(waveform[: 4 * rate]))[None]
        recorder = RawRecorder()
        with torch.inference_mode():
            expected_sequence, _ = reference.lstm(mel)
            expected = reference(mel)
            embedding = ours(mel, torch.tensor([mel.shape[1]]), recorder)
        assert relative_error(embedding, expected) <= 1e-5
        lstm3 = recorder.activations["lstm3"].transpose(1, 2)
        assert relative_error(lstm3, expected_sequence) <= 1e-5
        assert np.isclose(float(embedding.norm()), 1.0, atol=1e-6)
