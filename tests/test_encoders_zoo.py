"""WeSpeaker's ResNet34 and ECAPA-TDNN (GLOB c512/c1024): the official classes' weights load
strictly, every tap equals the official module's tensor, a padded batch gives each utterance its
own output, and official checkpoint folders load or are refused clearly."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from encoder_support import (
    RawRecorder,
    load_official_model_module,
    needs_official_wespeaker,
    randomise_batchnorm,
    relative_error,
)
from torch import nn

from rateprobe.encoders import SpeakerEncoder, build_encoder, load_wespeaker_encoder
from rateprobe.encoders.checkpoints import CheckpointError

torch.set_num_threads(2)

# arch -> (official file in wespeaker/models, official class, model_args of its recipe)
OFFICIAL = {
    "resnet34": (
        "resnet",
        "ResNet34",
        {"feat_dim": 80, "embed_dim": 256, "pooling_func": "TSTP", "two_emb_layer": False},
    ),
    "ecapa_c512": (
        "ecapa_tdnn",
        "ECAPA_TDNN_GLOB_c512",
        {"feat_dim": 80, "embed_dim": 192, "pooling_func": "ASTP", "emb_bn": False},
    ),
    "ecapa_c1024": (
        "ecapa_tdnn",
        "ECAPA_TDNN_GLOB_c1024",
        {"feat_dim": 80, "embed_dim": 192, "pooling_func": "ASTP", "emb_bn": False},
    ),
}
# (arch, model_args overriding the recipe's): each embedding-layer option of both families.
CASES = [
    ("resnet34", {}),
    ("resnet34", {"two_emb_layer": True}),
    ("ecapa_c512", {}),
    ("ecapa_c512", {"emb_bn": True}),
]
CASE_IDS = ["resnet34", "resnet34-two_emb_layer", "ecapa_c512", "ecapa_c512-emb_bn"]
FRAMES = 29  # odd, so ResNet's stride-2 stages round up
TOLERANCE = 1e-5


def official_model(
    arch: str, changes: dict[str, Any], seed: int
) -> tuple[nn.Module, dict[str, Any]]:
    """The official module (seeded random weights, non-trivial BatchNorm, eval mode) and its
    model_args."""
    filename, class_name, recipe_args = OFFICIAL[arch]
    model_args = recipe_args | changes
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        official = getattr(load_official_model_module(filename), class_name)(**model_args)
    randomise_batchnorm(official, seed)
    return official.eval(), model_args


def ours_and_official(
    arch: str, changes: dict[str, Any], seed: int
) -> tuple[SpeakerEncoder, nn.Module]:
    official, model_args = official_model(arch, changes, seed)
    ours = build_encoder(arch, **model_args)
    ours.load_state_dict(official.state_dict(), strict=True)
    return ours.eval(), official


def official_tap_modules(arch: str, official: nn.Module) -> dict[str, nn.Module]:
    """Tap name -> the official submodule whose output is that tap."""
    if arch == "resnet34":
        blocks = {
            f"layer{stage}.{index}": block
            for stage in range(1, 5)
            for index, block in enumerate(getattr(official, f"layer{stage}"))
        }
        first_embedding = {"first_embedding": official.seg_1} if official.two_emb_layer else {}
        return {**blocks, "pool": official.pool, **first_embedding}
    layers = {f"layer{index}": getattr(official, f"layer{index}") for index in range(1, 5)}
    return {**layers, "conv": official.conv, "pool": official.pool}


def official_taps(
    arch: str, official: nn.Module, features: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Every tap as the official module computes it, from forward hooks (ResNet's stem ends
    in a functional ReLU, so it is taken as layer1's input); `embedding` is what WeSpeaker's
    Speaker.extract_embedding takes (the last output)."""
    captured: dict[str, torch.Tensor] = {}

    def keep(name: str):
        return lambda module, inputs, output: captured.__setitem__(name, output.clone())

    hooks = [
        module.register_forward_hook(keep(name))
        for name, module in official_tap_modules(arch, official).items()
    ]
    if arch == "resnet34":
        hooks.append(
            official.layer1.register_forward_pre_hook(
                lambda module, inputs: captured.__setitem__("stem", inputs[0].clone())
            )
        )
    try:
        with torch.inference_mode():
            captured["embedding"] = official(features.clone())[-1]
    finally:
        for hook in hooks:
            hook.remove()
    return captured


def our_taps(
    encoder: SpeakerEncoder, features: torch.Tensor, lengths: list[int]
) -> dict[str, torch.Tensor]:
    recorder = RawRecorder()
    with torch.inference_mode():
        embedding = encoder(features, torch.tensor(lengths), recorder)
    assert torch.equal(recorder.activations["embedding"], embedding)
    assert list(recorder.activations) == encoder.tap_names()
    return recorder.activations


def random_features(lengths: list[int], seed: int) -> torch.Tensor:
    """(B, max(lengths), 80) features, zero after each utterance's length."""
    generator = torch.Generator().manual_seed(seed)
    features = torch.randn(len(lengths), max(lengths), 80, generator=generator)
    for index, length in enumerate(lengths):
        features[index, length:] = 0
    return features


@needs_official_wespeaker
@pytest.mark.parametrize(("arch", "changes"), CASES, ids=CASE_IDS)
def test_every_tap_equals_the_official_module(arch: str, changes: dict[str, Any]) -> None:
    ours, official = ours_and_official(arch, changes, seed=1)
    features = random_features([FRAMES], seed=2)
    expected = official_taps(arch, official, features)
    actual = our_taps(ours, features, [FRAMES])
    assert sorted(actual) == sorted(expected)
    for name in ours.tap_names():
        assert actual[name].shape == expected[name].shape, name
        assert relative_error(actual[name], expected[name]) <= TOLERANCE, name


@needs_official_wespeaker
@pytest.mark.parametrize(("arch", "changes"), CASES, ids=CASE_IDS)
def test_padded_batch_gives_each_utterance_its_own_output(
    arch: str, changes: dict[str, Any]
) -> None:
    ours, _ = ours_and_official(arch, changes, seed=3)
    lengths = [FRAMES, 17, 9]  # ResNet's last stage keeps 4, 3 and 2 frames of them
    features = random_features(lengths, seed=4)
    batched = our_taps(ours, features, lengths)
    for index, length in enumerate(lengths):
        alone = our_taps(ours, features[index : index + 1, :length], [length])
        for name, expected in alone.items():
            frames = expected.shape[-1] if expected.dim() > 2 else None
            actual = batched[name][index : index + 1, ..., :frames]
            assert actual.shape == expected.shape, name
            assert relative_error(actual, expected) <= TOLERANCE, (name, length)
    # The padding is visible to the network unless masked, so the comparison above can fail.
    unmasked = our_taps(ours, features, [FRAMES] * len(lengths))["embedding"]
    assert relative_error(unmasked[2], batched["embedding"][2]) > 1e-2


@needs_official_wespeaker
def test_ecapa_c1024_loads_the_official_state_dict_strictly() -> None:
    official, model_args = official_model("ecapa_c1024", {}, seed=5)
    ours = build_encoder("ecapa_c1024", **model_args)
    ours.load_state_dict(official.state_dict(), strict=True)  # raises on any key or shape


def write_wespeaker_folder(
    folder: Path, model_class: str, model_args: dict[str, Any], state: dict[str, torch.Tensor]
) -> Path:
    """A model folder as WeSpeaker publishes it: config.yaml and avg_model.pt with the
    classification head."""
    folder.mkdir()
    config = {"model": model_class, "model_args": model_args, "projection_args": {}}
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    head = {"projection.weight": torch.randn(10, model_args.get("embed_dim", 256))}
    torch.save({**state, **head}, folder / "avg_model.pt")
    return folder


@needs_official_wespeaker
@pytest.mark.parametrize("arch", ["resnet34", "ecapa_c512"])
def test_official_folder_loads_and_embeds_as_the_official_module(tmp_path: Path, arch: str) -> None:
    official, model_args = official_model(arch, {}, seed=6)
    model_class = OFFICIAL[arch][1]
    folder = write_wespeaker_folder(tmp_path / arch, model_class, model_args, official.state_dict())
    encoder = load_wespeaker_encoder(folder, expected_arch=arch).eval()
    assert encoder.arch == arch
    features = random_features([FRAMES], seed=7)
    with torch.inference_mode():
        embedding = encoder(features, torch.tensor([FRAMES]))
    expected = official_taps(arch, official, features)["embedding"]
    assert relative_error(embedding, expected) <= TOLERANCE


# case -> (config.yaml model, model_args, what the error says after "{folder}: ")
REFUSED_FOLDERS = {
    "unsupported class": (
        "ResNet50", {},
        r"config.yaml names model 'ResNet50'; supported: \[.*'ECAPA_TDNN_GLOB_c512'.*'ResNet34'",
    ),
    "unknown model_args key": (
        "ResNet34", {"m_channels": 64},
        r"config.yaml \(model ResNet34\): model_args has keys \['m_channels'\] that resnet34 "
        r"does not take \(it takes \['embed_dim', 'feat_dim', 'pooling_func', 'two_emb_layer'\]\)",
    ),
    "ECAPA key given to ResNet34": (
        "ResNet34", {"emb_bn": True},
        r"config.yaml \(model ResNet34\): model_args has keys \['emb_bn'\] that resnet34",
    ),
    "other pooling": (
        "ResNet34", {"pooling_func": "ASTP"},
        r"config.yaml \(model ResNet34\): ResNet34 is built with pooling_func TSTP only",
    ),
    "other ECAPA pooling": (
        "ECAPA_TDNN_GLOB_c512", {"pooling_func": "MQMHASTP"},
        r"config.yaml \(model ECAPA_TDNN_GLOB_c512\): "
        r"ECAPA-TDNN is built with pooling_func ASTP only",
    ),
    "other fbank": (
        "ECAPA_TDNN_GLOB_c1024", {"feat_dim": 40},
        r"config.yaml \(model ECAPA_TDNN_GLOB_c1024\): feat_dim 40 differs",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", REFUSED_FOLDERS, ids=list(REFUSED_FOLDERS))
def test_unsupported_folder_is_refused_naming_the_class(tmp_path: Path, case: str) -> None:
    model_class, model_args, problem = REFUSED_FOLDERS[case]
    folder = write_wespeaker_folder(tmp_path / "model", model_class, model_args, {})
    with pytest.raises(CheckpointError, match=re.escape(f"{folder}: ") + problem):
        load_wespeaker_encoder(folder)
