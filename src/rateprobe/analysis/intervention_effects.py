"""What the representation does when only the rate changes (results/interventions/{model}.json).

The variants of test utterances (rateprobe.corpus.tempo_variants) go through every model; three
measurements read them.

Slope. Per tap and target, the ridge probe is refitted on the natural TRAIN activations with
the alpha the probing stage chose on the training speakers for that tap and target
(results/probes/{model}.json, selection[target][i].ridge.alpha): the same standardisation and
the same closed-form fit, so on natural test utterances it reproduces the probing stage's ridge
predictions. It then predicts every variant v of source utterance u. Within each source,
Δp_v = p_v - p_u and Δy_v = y_v - y_u (prediction and true label minus the source's natural
ones), and the slope is the pooled least-squares fit through the origin, b = Σ Δp Δy / Σ Δy²,
per intervention kind (all its factors together). b = 1: the probe's reading follows the
manipulated rate one for one, i.e. the representation moves along the rate direction learned
from natural speech as much as natural rate differences would move it; b = 0: the rate change
leaves that direction alone.
Differencing within a source cancels everything the variant shares with its source (speaker, text,
the probe's bias for that utterance). An intervention that moves a target by less than
intervention_readout.MIN_TARGET_CHANGE (root mean square of Δy / y_u) has no slope (null, with the
reason): padding is built to leave the articulation rate alone. The standardiser clips each feature
to its training range, so responses beyond what natural speech spans can only shrink the slope (on
the demo, variants had features clipped about as often as natural test utterances: 2.6 % against
2.2 % of Resemblyzer's lstm1 entries).

The MLP probes are not used: a slope reads the probe's response along one fixed direction,
which a linear readout has by construction, while an MLP's response to inputs off the natural
distribution (a time-stretched utterance) is unconstrained and differs between its seeds; and
its fitted weights are not stored, so it would have to be trained again with early stopping on
dev, three seeds per tap and target, for one number each.

Drift. For the final embedding, 1 - cos(e_u, e_v) between a source's natural embedding and its
variant, averaged over the variants of each (intervention, factor), and its ratio to the mean
cosine distance between natural test utterances of different speakers: a ratio of 0.5 means the
rate change moves the embedding half as far as changing the speaker does.

Verification across rates. Trials pair an enrolment utterance e (any natural test utterance)
with a test utterance that is the variant v of another source utterance u != e: targets when e
and u share the speaker (across chapters when any such trial exists, as
rateprobe.analysis.verification does), non-targets otherwise. The EER of these trials stands
beside the EER of the same trials scored with u's natural embedding in place of v, and their
paired difference. It needs a test speaker with at least two natural utterances.

Intervals: 95 %, speaker bootstrap over the test speakers (probes.bootstrap: the same resamples
as the probing stage's test metrics). The slope and the mean drift are ratios of per-speaker
sums, so `bootstrap.cluster_estimates` gives them studentised intervals (the better-covering
kind, see rateprobe.bootstrap), and p-values of slope = 0 and slope = 1 from the same. The
between-speaker distance is a mean over pairs of speakers, no function of per-speaker sums: its
draws weight the pair of speakers (a, b) by c_a c_b, as verification weights non-target trials;
it, the drift ratio (ratio of paired draws) and the EERs get BCa intervals, as the EER does in
the probing stage.

JSON keys (every float plain; a number that cannot be computed is null with `<key>_reason`):

- `model`, `targets` (the probing targets the manifests hold), `taps`;
- `n_sources`, `n_variants`, `n_speakers` (test speakers), `speakers_with_sources`;
- `probe`: how the slope's probe is fitted (`kind`, `trained_on`, `alpha`);
- `bootstrap`: `n`, `seed`, and `intervals` (which interval each measure gets);
- `conditions`: per (`intervention`, `factor`): `n_variants` and `true_change[target]` =
  {`ratio_mean`, `ratio_min`, `ratio_max`} of variant / natural label, the manipulation as
  measured;
- `slopes[target]`: one entry per tap in network order: `tap`, `index`, `alpha`,
  `natural_test_r2` (the refitted probe on natural test utterances), and
  `interventions[kind]` = {`slope`: {`value`, `ci_low`, `ci_high`, `p_zero`, `p_one`},
  `n_variants`, `n_outside_train_range` (variants whose label lies beyond the natural train
  range, where the clipped standardisation can only under-read), `target_change` (RMS
  relative change of the label), `mean_target_shift`, `mean_prediction_shift` (mean Δy and
  Δp, target units)};
- `drift`: `tap` (the embedding), `between_speaker_distance` {`value`, `ci_low`, `ci_high`},
  `conditions`: per (`intervention`, `factor`): `n_variants`, `drift` and `ratio`
  ({`value`, `ci_low`, `ci_high`});
- `verification`: `target_trials` (which same-speaker trials count), `conditions`: per
  (`intervention`, `factor`): `n_target_trials`, `n_nontarget_trials`, `eer` and
  `natural_eer` ({`value`, `ci_low`, `ci_high`}), `difference` (eer - natural_eer, with
  `p_value`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rateprobe.analysis.intervention_readout import chosen_alphas, probe_slopes
from rateprobe.analysis.intervention_statistics import (
    Trials,
    Variants,
    between_speaker_distance,
    cosine_drift,
    mismatch_trials,
    pair_variants,
    ratio_estimate,
    row_mean_estimate,
    trial_eer,
)
from rateprobe.analysis.verification import unit_length
from rateprobe.bootstrap import SpeakerBootstrap
from rateprobe.conventions import EMBEDDING_TAP
from rateprobe.inputs import (
    bootstrap_of_test_speakers,
    open_activations,
    read_manifest,
    target_matrix,
)
from rateprobe.io import write_json

INTERVALS = {
    "slope": "studentised",
    "drift": "studentised",
    "between_speaker_distance": "BCa",
    "ratio": "BCa",
    "eer": "BCa",
}


def intervention_analysis(
    model: str,
    intervention_manifest: str | Path,
    intervention_activations: str | Path,
    manifest_paths: Mapping[str, str | Path],
    activation_paths: Mapping[str, str | Path],
    probe_result_path: str | Path,
    bootstrap: Mapping[str, Any],
    out_json: str | Path,
) -> dict[str, Any]:
    """Write results/interventions/{model}.json (keys: module docstring).

    `manifest_paths` and `activation_paths` give the natural `train` and `test` splits;
    `probe_result_path` is the probing stage's JSON of this model; `bootstrap` is probes.bootstrap.
    """
    analysis = json.loads(Path(probe_result_path).read_text(encoding="utf-8"))
    manifests = {split: read_manifest(manifest_paths[split]) for split in ("train", "test")}
    manifests["interventions"] = read_manifest(intervention_manifest)
    targets = [
        t for t in analysis["targets"] if all(t in frame.columns for frame in manifests.values())
    ]
    y = {split: target_matrix(frame, targets) for split, frame in manifests.items()}
    boot = bootstrap_of_test_speakers(manifests, bootstrap)
    variants = pair_variants(manifests["interventions"], manifests["test"], boot)
    alphas = chosen_alphas(analysis, targets)
    paths = {**activation_paths, "interventions": intervention_activations}
    with open_activations(paths, manifests) as acts:
        taps = acts["train"].layer_names
        slopes = probe_slopes(acts, y, targets, alphas, variants, boot, probe_result_path)
        embedding = {s: acts[s].tap(EMBEDDING_TAP) for s in ("test", "interventions")}
    chapters = manifests["test"]["chapter_id"].to_numpy(dtype=str)
    result = {
        "model": model,
        "targets": targets,
        "taps": taps,
        **_sample_and_method(variants, boot, int(bootstrap["seed"])),
        "conditions": _conditions(variants, y["test"], y["interventions"], targets),
        "slopes": slopes,
        "drift": drift_analysis(embedding["test"], embedding["interventions"], variants, boot),
        "verification": verification_across_rates(
            embedding["test"], embedding["interventions"], chapters, variants, boot
        ),
    }
    write_json(out_json, result)
    return result


def _sample_and_method(variants: Variants, boot: SpeakerBootstrap, seed: int) -> dict[str, Any]:
    """The counts of sources, variants and speakers, and how the probe and the intervals are
    made (`probe`, `bootstrap`)."""
    return {
        "n_sources": len(set(variants.source_row.tolist())),
        "n_variants": len(variants.source_row),
        "n_speakers": boot.n_speakers,
        "speakers_with_sources": len(set(variants.speaker_index.tolist())),
        "probe": {
            "kind": "ridge",
            "trained_on": "natural train utterances",
            "alpha": "chosen by the probing stage (cross-validated on the training speakers), "
            "per tap and target",
        },
        "bootstrap": {"n": len(boot.counts), "seed": seed, "intervals": INTERVALS},
    }


def _conditions(
    variants: Variants,
    y_natural: np.ndarray,
    y_manipulated: np.ndarray,
    targets: Sequence[str],
) -> list[dict[str, Any]]:
    """Per condition, the true change of every target as variant / natural ratios."""
    ratio = y_manipulated / y_natural[variants.source_row]
    out = []
    for intervention, factor in variants.conditions():
        rows = variants.where(intervention, factor)
        change = {
            target: {
                "ratio_mean": float(np.mean(ratio[rows, t])),
                "ratio_min": float(np.min(ratio[rows, t])),
                "ratio_max": float(np.max(ratio[rows, t])),
            }
            for t, target in enumerate(targets)
        }
        out.append(
            {
                "intervention": intervention,
                "factor": factor,
                "n_variants": int(rows.sum()),
                "true_change": change,
            }
        )
    return out


def drift_analysis(
    natural: np.ndarray, manipulated: np.ndarray, variants: Variants, boot: SpeakerBootstrap
) -> dict[str, Any]:
    """Embedding drift per condition and its ratio to the between-speaker distance."""
    between = between_speaker_distance(natural, boot)
    drift = cosine_drift(natural[variants.source_row], manipulated)
    conditions = []
    for intervention, factor in variants.conditions():
        rows = variants.where(intervention, factor)
        mean = row_mean_estimate(drift[rows], variants.speaker_index[rows], boot)
        conditions.append(
            {
                "intervention": intervention,
                "factor": factor,
                "n_variants": int(rows.sum()),
                "drift": mean.record(),
                "ratio": ratio_estimate(mean, between).record(),
            }
        )
    return {
        "tap": EMBEDDING_TAP,
        "between_speaker_distance": between.record(),
        "conditions": conditions,
    }


def verification_across_rates(
    natural: np.ndarray,
    manipulated: np.ndarray,
    chapters: np.ndarray,
    variants: Variants,
    boot: SpeakerBootstrap,
) -> dict[str, Any]:
    """Per condition: the EER of natural enrolment vs manipulated test, beside the same trials
    with the natural test utterance, and their paired difference."""
    enrol, test = unit_length(natural), unit_length(manipulated)
    conditions = []
    description = None
    for intervention, factor in variants.conditions():
        rows = variants.where(intervention, factor)
        source = variants.source_row[rows]
        trials = mismatch_trials(boot.speaker_index, chapters, source)
        description = trials.description
        entry: dict[str, Any] = {
            "intervention": intervention,
            "factor": factor,
            "n_target_trials": int(trials.target.sum()),
            "n_nontarget_trials": int(trials.nontarget.sum()),
        }
        conditions.append(entry)
        reason = _no_eer_reason(trials)
        if reason is not None:
            entry.update(eer=None, eer_reason=reason, natural_eer=None, difference=None)
            entry.update(natural_eer_reason=reason, difference_reason=reason)
            continue
        speakers = boot.speaker_index
        mismatched = trial_eer(enrol @ test[rows].T, trials, speakers, speakers[source], boot)
        matched = trial_eer(enrol @ enrol[source].T, trials, speakers, speakers[source], boot)
        entry["eer"] = mismatched.record((0.0, 1.0))
        entry["natural_eer"] = matched.record((0.0, 1.0))
        entry["difference"] = mismatched.minus(matched).comparison_record()
    return {"target_trials": description, "conditions": conditions}


def _no_eer_reason(trials: Trials) -> str | None:
    if not trials.target.any():
        return "no test speaker has a second natural utterance to enrol with"
    if not trials.nontarget.any():
        return "the test split has a single speaker"
    return None
