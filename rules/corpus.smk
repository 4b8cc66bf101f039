# Stage: corpus. See docs/interfaces.md for the files it reads and writes.
# The speech is either synthesised with espeak-ng (the offline demo) or real LibriSpeech, read
# from an existing extraction or downloaded subset by subset; both lie in the LibriSpeech layout
# under corpus.root, and each split's manifest labels every utterance with its speech rate.

from rateprobe.corpus.download import completion_marker, corpus_root_of
from rateprobe.corpus.splits import split_inputs, synthetic_report

CORPUS = CFG["corpus"]


rule synthesize_corpus:
    input:
        # The corpus is what the generator writes: a change to it regenerates the corpus.
        f"{workflow.basedir}/src/rateprobe/corpus/synthetic.py",
        f"{workflow.basedir}/src/rateprobe/corpus/sentences.py",
    output:
        synthetic_report(CORPUS["root"]),
    params:
        corpus={k: CORPUS[k] for k in ("kind", "root", "splits", "synthetic")},
        seed=CFG["seed"],
    threads: 2
    log:
        "logs/synthesize_corpus.log",
    conda:
        "../envs/rateprobe.yaml"
    script:
        "../scripts/synthesize_corpus.py"


# Compute nodes of a cluster often have no internet: downloads run where Snakemake runs.
localrules:
    download_subset,


rule download_subset:
    output:
        completion_marker(CORPUS["root"], "{subset}"),
    params:
        root=lambda wildcards, output: corpus_root_of(output[0]),
        mirrors=CORPUS["mirrors"],
        md5=CORPUS["md5"],
    wildcard_constraints:
        subset="[A-Za-z0-9_.-]+",
    log:
        "logs/download_subset/{subset}.log",
    conda:
        "../envs/rateprobe.yaml"
    script:
        "../scripts/download_subset.py"


# A checkpoint: how many extraction shards a split makes is known once its manifest exists.
checkpoint manifest:
    input:
        lambda wildcards: split_inputs(CORPUS, wildcards.split),
    output:
        manifest="results/manifests/{split}.csv",
        bad="results/manifests/{split}.bad.json",
    params:
        corpus={k: CORPUS.get(k) for k in ("kind", "root", "splits", "carve_by_speaker")},
        vad=CFG["vad"],
        on_bad_input=CFG["on_bad_input"],
    threads: 2
    log:
        "logs/manifest/{split}.log",
    conda:
        "../envs/rateprobe.yaml"
    script:
        "../scripts/build_manifest.py"
