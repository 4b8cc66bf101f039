# Stage: corpus. See docs/interfaces.md for the files it reads and writes.
# The speech is either synthesised with espeak-ng (the offline demo) or real LibriSpeech, read
# from an existing extraction or downloaded subset by subset (both in the LibriSpeech layout
# under corpus.root), or any recordings listed in a table (corpus.table, docs/own-corpus.md);
# each split's manifest labels every utterance with its speech rate.

from rateprobe.corpus.download import completion_marker, corpus_root_of
from rateprobe.corpus.splits import (
    ExtractionFiles,
    check_corpus_present,
    manifest_corpus_settings,
    split_inputs,
    synthetic_report,
)
from rateprobe.fingerprint import DEFAULT_CACHE, FingerprintCache

CORPUS = CFG["corpus"]
# An existing extraction's files and their content fingerprints, kept between plans: after the
# first plan, a plan re-reads only files whose status changed.
FINGERPRINTS = FingerprintCache(DEFAULT_CACHE)
EXTRACTION = ExtractionFiles(FINGERPRINTS)
# The subsets' completion markers, when the corpus is downloaded (rule prefetch).
SUBSET_DOWNLOADS = (
    sorted({marker for split in SPLITS for marker in split_inputs(CORPUS, split)})
    if CORPUS["kind"] == "librispeech" and CORPUS.get("download")
    else []
)
try:
    check_corpus_present(CORPUS)
except FileNotFoundError as error:
    where = "corpus.table" if CORPUS["kind"] == "table" else f"corpus.root {CORPUS['root']}"
    raise WorkflowError(f"{where}: {error}") from None


rule synthesize_corpus:
    output:
        synthetic_report(CORPUS["root"]),
    log:
        "logs/synthesize_corpus.log",
    conda:
        "../envs/rateprobe.yaml"
    threads: 2
    params:
        # The corpus is what the generator writes: a change to it regenerates the corpus.
        code=code_version("../scripts/synthesize_corpus.py"),
        corpus={k: CORPUS[k] for k in ("kind", "root", "splits", "synthetic")},
        seed=CFG["seed"],
    script:
        "../scripts/synthesize_corpus.py"


# Compute nodes of a cluster often have no internet: downloads run where Snakemake runs.
localrules:
    download_subset,


rule download_subset:
    output:
        completion_marker(CORPUS["root"], "{subset}"),
    log:
        "logs/download_subset/{subset}.log",
    wildcard_constraints:
        subset="[A-Za-z0-9_.-]+",
    conda:
        "../envs/rateprobe.yaml"
    # No code version: what a download writes is checked against its md5, so an edit of the
    # code fetching it must not download gigabytes again.
    params:
        root=lambda wildcards, output: corpus_root_of(output[0]),
        mirrors=CORPUS["mirrors"],
        md5=CORPUS["md5"],
    script:
        "../scripts/download_subset.py"


# A checkpoint: how many extraction shards a split makes is known once its manifest exists.
checkpoint manifest:
    input:
        lambda wildcards: split_inputs(CORPUS, wildcards.split, EXTRACTION),
    output:
        manifest=files.MANIFEST,
        bad=files.BAD_INPUT_REPORT,
    log:
        "logs/manifest/{split}.log",
    conda:
        "../envs/rateprobe.yaml"
    threads: 2
    params:
        code=code_version("../scripts/build_manifest.py"),
        # With the content digest of an extraction's files: content, not only time stamps,
        # decides whether the labels are stale.
        corpus=lambda wildcards: manifest_corpus_settings(CORPUS, wildcards.split, EXTRACTION),
        vad=CFG["vad"],
        label_bounds=CFG["labels"],
        on_bad_input=CFG["on_bad_input"],
    script:
        "../scripts/build_manifest.py"
