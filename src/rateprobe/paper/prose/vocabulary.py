"""The names the paper gives what it studies: architectures (with their citations), models,
layers, targets and classification tasks, for the prose and the templates alike."""

from __future__ import annotations

from typing import NamedTuple

from rateprobe.conventions import TARGET_NAMES
from rateprobe.paper.latex import Latex, escape


class Architecture(NamedTuple):
    name: str
    # keys of paper/references.bib, comma-separated as \cite takes them
    citations: str
    # the method section describes architectures of one family in one paragraph
    family: str


ARCHITECTURES = {
    "resemblyzer": Architecture("GE2E", "ge2e", "ge2e"),
    "samresnet34": Architecture("SimAM-ResNet34", "wespeaker,simam,resnet", "simam_resnet"),
    "samresnet100": Architecture("SimAM-ResNet100", "wespeaker,simam,resnet", "simam_resnet"),
    "resnet34": Architecture("ResNet34", "wespeaker,resnet", "resnet"),
    "ecapa_c512": Architecture("ECAPA-TDNN (C=512)", "ecapa", "ecapa"),
    "ecapa_c1024": Architecture("ECAPA-TDNN (C=1024)", "ecapa", "ecapa"),
    "campplus": Architecture("CAM++", "campplus", "campplus"),
}

# Said wherever a result would stand had any probe fit been numerically sound.
NO_HEALTHY_FIT = "Ни у одной модели пробы не дали численно здоровой подгонки."

CLASSIFICATION_NAMES = {
    "sex": "пол диктора",
    "cps_tercile": "терциль CPS",
}

INTERVENTION_NAMES = {
    "rate": "темп синтеза",
    "pause": "паузы между словами",
    "stretch": "растяжение во времени",
    "pad": "тишина по краям",
}


def arch_name(arch: str) -> Latex:
    """An architecture's name in the paper; one the paper does not know by its own key."""
    known = ARCHITECTURES.get(arch)  # None: printed by its key
    return escape(known.name if known else arch)


def cited_arch(arch: str) -> Latex:
    """`CAM++~\\cite{campplus}`: an architecture with the papers that introduced it."""
    return Latex(rf"{arch_name(arch)}~\cite{{{ARCHITECTURES[arch].citations}}}")


def model_ref(name: str) -> Latex:
    """A model name as the paper prints it (escaped data inside a macro of main.tex)."""
    return Latex(rf"\model{{{escape(name)}}}")


def tap_ref(tap: str) -> Latex:
    """A tapped layer's name, set in typewriter type as in the layer tables."""
    return Latex(rf"\texttt{{{escape(tap)}}}")


def target_name(target: str) -> Latex:
    return Latex(TARGET_NAMES[target]) if target in TARGET_NAMES else escape(target)
