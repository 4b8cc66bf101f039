# Stage: probes. See docs/interfaces.md for the files it reads and writes.
# Each model's taps are probed in one job: ridge, MLP and conditional regression of every
# target, fitted on train, selected on dev, reported on test with speaker-bootstrap intervals.


rule probe_model:
    input:
        **keyed("activations", files.ACTIVATIONS, audio=SPLITS),
        **keyed("manifests", files.MANIFEST, split=SPLITS),
    output:
        table=report(
            files.PROBE_TABLE,
            caption="../report/probe_table.rst",
            category="Probes",
            subcategory="{model}",
        ),
        result=files.PROBE_RESULT,
        predictions=files.PREDICTIONS,
    log:
        "logs/probe_model/{model}.log",
    benchmark:
        files.PROBE_BENCHMARK
    conda:
        "../envs/rateprobe.yaml"
    threads: CFG["probes"]["threads"]
    params:
        # Only what changes the probes: adding a model, editing the paper or an analysis
        # setting re-probes nothing.
        code=code_version("../scripts/probe_model.py"),
        seed=CFG["seed"],
        probes=RESULT_SETTINGS["probes"],
    script:
        "../scripts/probe_model.py"
