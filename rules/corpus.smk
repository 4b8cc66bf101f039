# Stage: corpus. See docs/interfaces.md for the files it reads and writes.
# The speech is either synthesised with espeak-ng (the offline demo) or real LibriSpeech, read
# from an existing extraction or downloaded subset by subset; both lie in the LibriSpeech layout
# under corpus.root, and each split's manifest labels every utterance with its speech rate.

from rateprobe.corpus.download import completion_marker
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
    script:
        "../scripts/synthesize_corpus.py"


rule download_subset:
    output:
        completion_marker(CORPUS["root"], "{subset}"),
    params:
        root=CORPUS["root"],
        mirrors=CORPUS["mirrors"],
        md5=CORPUS["md5"],
    wildcard_constraints:
        subset="[A-Za-z0-9_.-]+",
    script:
        "../scripts/download_subset.py"


rule manifest:
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
    script:
        "../scripts/build_manifest.py"
