"""The names of the probes a tap is fitted with, torch-free: the summary and the figures read
them without importing the probing stage (which imports torch)."""

PROBES = ("ridge", "mlp")
# Ridge on [duration basis, tap]: what the tap adds beyond duration (probing/conditional.py).
CONDITIONAL = "conditional"
# The fits whose penalty is cross-validated on the training speakers.
RIDGE_PROBES = ("ridge", CONDITIONAL)
# The probe table's rows of the nuisance baselines: tap `none`, probe `baseline_<name>`.
BASELINE_TAP = "none"
BASELINE_PREFIX = "baseline_"
