# Stage: causal rate interventions. See docs/interfaces.md for the files it reads and writes.
# Probing is correlational; here only the rate changes. Test utterances are made again at other
# rates (synthetic: espeak-ng re-synthesis at other speeds and with longer pauses; recordings:
# pitch-preserving time-stretch and silence padding), labelled like any split, and fed to every
# model as one more audio set (rules/activations.smk); ridge probes trained on natural speech then
# read them (rateprobe.corpus.tempo_variants, rateprobe.analysis.intervention_effects).

from rateprobe.corpus.splits import synthetic_report

INTERVENTIONS = CFG["interventions"]
# The natural speech each model's probes are trained on (train) and the variants are made of
# (test).
NATURAL_SPLITS = ["train", "test"]


# A checkpoint, as the split manifests: the variants' manifest decides the extraction shards.
checkpoint intervention_manifest:
    input:
        manifest=files.MANIFEST.format(split="test"),
        report=[synthetic_report(CORPUS["root"])] if CORPUS["kind"] == "synthetic" else [],
    output:
        manifest=files.INTERVENTION_MANIFEST,
        audio=directory(files.INTERVENTION_AUDIO_DIR),
    log:
        "logs/intervention_manifest.log",
    conda:
        "../envs/rateprobe.yaml"
    threads: 2
    params:
        # The variants are what this code makes: a change to it makes them again.
        code=code_version("../scripts/make_interventions.py"),
        settings=INTERVENTIONS,
        kind=CORPUS["kind"],
        vad=CFG["vad"],
        seed=CFG["seed"],
    script:
        "../scripts/make_interventions.py"


rule intervention_analysis:
    input:
        **keyed("natural_manifests", files.MANIFEST, split=NATURAL_SPLITS),
        **keyed("natural_activations", files.ACTIVATIONS, audio=NATURAL_SPLITS),
        manifest=files.INTERVENTION_MANIFEST,
        activations=files.ACTIVATIONS.format(model="{model}", audio=files.INTERVENTION_AUDIO),
        probe_result=files.PROBE_RESULT,
    output:
        files.INTERVENTION_RESULT,
    log:
        "logs/intervention_analysis/{model}.log",
    conda:
        "../envs/rateprobe.yaml"
    threads: 1
    params:
        code=code_version("../scripts/intervention_analysis.py"),
        bootstrap=CFG["probes"]["bootstrap"],
    script:
        "../scripts/intervention_analysis.py"
