"""What summary.json states about one model (`models.<name>`): probes per tap and target,
verification, erasure, CCA, classification, t-SNE."""

from __future__ import annotations

from typing import Literal

from rateprobe.results.records import (
    AlphaEdge,
    AlphaLimit,
    ConfigNumber,
    Contract,
    Decision,
    Interval,
    OverDuration,
    PenalisedFit,
    Probe,
    RegressionMetrics,
    Target,
)


class FitSelection(Contract):
    """How a fit was chosen on dev and whether it is healthy (rateprobe.probing.health)."""

    dev_r2: float | None
    selection_r2: float | None
    prediction_spread: float | None
    failure: str | None


class Penalty(Contract):
    """The ridge penalty chosen by cross-validation on the training speakers."""

    alpha: float
    alpha_grid: Interval
    alpha_at_edge: AlphaEdge | None
    alpha_limit: AlphaLimit | None
    cv_r2: float | None


class RidgeFit(RegressionMetrics, FitSelection, Penalty):
    r2_seed_sd: float | None


class MlpFit(RegressionMetrics, FitSelection):
    n_seeds: int
    best_epochs: list[int]
    r2_seed_sd: float | None


class ConditionalFit(RegressionMetrics, FitSelection, Penalty, OverDuration):
    pass


class MinusControls(Contract):
    delta_r2: float | None
    delta_r2_ci: Interval | None


class TapEntry(Contract):
    """One tap's probes (`layers.<target>.per_tap`)."""

    tap: str
    index: int
    dim: int
    best_probe: Probe | None
    minus_controls: MinusControls | None
    ridge: RidgeFit
    mlp: MlpFit
    conditional: ConditionalFit | None = None


class TapResult(RegressionMetrics):
    """The test metrics of a tap's dev-chosen probe; probe null when every fit failed."""

    tap: str
    probe: Probe | None


class SpeakerParts(Contract):
    """Between- and within-speaker R² (rateprobe.speaker_decomposition)."""

    between_r2: float | None = None
    between_r2_ci: Interval | None = None
    between_r2_reason: str | None = None
    within_r2: float | None = None
    within_r2_ci: Interval | None = None
    within_r2_reason: str | None = None
    speaker_mean_ceiling_r2: float | None = None
    speaker_mean_ceiling_r2_ci: Interval | None = None
    speaker_mean_ceiling_r2_reason: str | None = None
    reason: str | None = None


class Selectivity(Contract):
    """Hewitt & Liang's selectivity of the ridge probe against the control task."""

    probe: Literal["ridge"]
    control_task: str
    r2: float | None
    r2_ci: Interval | None = None
    r2_reason: str | None = None
    control_r2: float | None
    control_r2_ci: Interval | None = None
    control_r2_reason: str | None = None
    selectivity: float | None
    selectivity_ci: Interval | None = None
    selectivity_reason: str | None = None


class BestTap(TapResult, OverDuration):
    index: int
    relative_depth: float
    selection_r2: float | None
    speaker_parts: SpeakerParts
    selectivity: Selectivity | None
    beyond_duration: Decision | None


class ControlResult(RegressionMetrics):
    """A control's best tap and this model's best tap compared with it."""

    name: str
    tap: str | None = None
    probe: Probe | None = None
    comparison: Decision | None


class EdgeChoice(Contract):
    tap: str
    probe: PenalisedFit
    edge: AlphaEdge
    alpha: float
    alpha_limit: AlphaLimit | None


class Layers(Contract):
    """A model's probes on every tap for one target."""

    per_tap: list[TapEntry]
    deepest: TapResult
    alpha_at_edge: list[EdgeChoice]
    best: BestTap | None
    best_reason: str | None = None
    best_minus_deepest: Decision | None
    middle_beats_deepest: bool | None
    middle_beats_deepest_reason: str | None = None
    controls: list[ControlResult]
    control_band: Interval | None
    control_embedding_band: Interval | None
    beats_every_control: Decision | None
    beats_controls: bool | None
    beats_controls_reason: str | None = None


class EmbeddingProbe(RegressionMetrics, OverDuration):
    """The final embedding's dev-chosen probe for one target."""

    tap: str
    best_probe: Probe | None
    speaker_parts: SpeakerParts | None = None
    beyond_duration: Decision | None


class CcaRow(Contract):
    tap: str
    index: int
    heldout: float | None
    in_sample: float | None
    n_components: int


class TargetCcaRow(CcaRow):
    in_sample_pca: float | None


class Cca(Contract):
    """CCA of each tap with each target, SVCCA with the embedding, the headline's extremes."""

    n_chars: list[TargetCcaRow] | None = None
    duration_s: list[TargetCcaRow] | None = None
    cps: list[TargetCcaRow] | None = None
    voiced_duration_s: list[TargetCcaRow] | None = None
    articulation_rate: list[TargetCcaRow] | None = None
    svcca_with_embedding: list[CcaRow]
    svcca_first: CcaRow | None
    svcca_last: CcaRow | None
    headline_target: Target
    max_in_sample: float | None
    max_heldout: float | None
    max_inflation: float | None
    inflation_visible: bool


class Classification(Contract):
    """A logistic-regression probe's test metrics and its excess over chance."""

    tap: str
    classes: list[str]
    test_class_counts: list[int]
    chance_macro_f1: float
    C: float
    precision: float | None
    precision_ci: Interval | None = None
    precision_reason: str | None = None
    recall: float | None
    recall_ci: Interval | None = None
    recall_reason: str | None = None
    macro_f1: float | None
    macro_f1_ci: Interval | None = None
    macro_f1_reason: str | None = None
    accuracy: float | None
    accuracy_ci: Interval | None = None
    accuracy_reason: str | None = None
    above_chance: Decision | None


class ClassificationTasks(Contract):
    """Each configured classification target (rateprobe.conventions.CLASSIFICATION_TARGETS)."""

    sex: Classification | None = None
    sex_reason: str | None = None
    cps_tercile: Classification | None = None
    cps_tercile_reason: str | None = None


class ClassificationSection(ClassificationTasks):
    best_rate_tap: ClassificationTasks | None


class EmbeddingMethod(Contract):
    kind: Literal["whole_utterance", "windowed_mean"]
    description: str
    reference: str
    window_s: float | None = None
    step_s: float | None = None


class VerificationStats(Contract):
    same_cos_mean: float | None = None
    different_cos_mean: float | None = None
    n_same_pairs: int | None = None
    n_different_pairs: int | None = None
    target_trials: Literal["cross-chapter", "all same-speaker pairs"] | None = None


class NamedComparison(Contract):
    name: str
    comparison: Decision | None


class ReferenceEer(Contract):
    eer: ConfigNumber
    source: str


class Erasure(Contract):
    eer: float | None
    eer_ci: Interval | None
    train_r2_after_erasure: float | None
    eer_change: Decision | None


class Tsne(Contract):
    perplexity: float | None
    perplexity_requested: ConfigNumber
    seed: int
    n_points: int


# The architectures of schemas/config.schema.yaml's models (a test keeps the two lists equal).
Arch = Literal[
    "samresnet34",
    "samresnet100",
    "resnet34",
    "ecapa_c512",
    "ecapa_c1024",
    "campplus",
    "resemblyzer",
]


class ModelEntry(Contract):
    """Everything the summary states about one model."""

    arch: Arch
    source_kind: Literal["url", "path", "pypi", "resemblyzer", "random"]
    pretrained: bool
    controls: list[str]
    training_data: str | None
    weights_package: str | None
    licence: str | None
    model_card: str | None
    embedding_method: EmbeddingMethod | None
    n_params: int | None
    taps: list[str]
    tap_dims: list[int]
    eer: float | None
    eer_ci: Interval | None
    eer_reason: str | None = None
    verification: VerificationStats
    controls_eer: list[NamedComparison]
    beats_controls_eer: bool | None
    reference_eer: ReferenceEer | None
    eer_implausible: bool | None
    erasure: Erasure | None
    embedding: dict[Target, EmbeddingProbe]
    layers: dict[Target, Layers]
    cca: Cca
    classification: ClassificationSection
    tsne: Tsne
