"""How far a lower compute precision moves the probes: the largest change of any test R².

In a scratch copy of the repository, the probes of the small study (tests/fixtures/small_study.yaml)
are built for a random-initialised SimAM-ResNet34 in place of its Resemblyzer models (which are
always computed in float32, see rateprobe.activations.FLOAT32_ARCHS) with
`activations.precision: float32`, then again with the lower precision; every (tap, target,
probe) test R² of the two builds is compared with its speaker-bootstrap interval from the
float32 build. Prints its command and machine.

    .venv/bin/python bench/bench_precision_probes.py [--precision bfloat16] [--cores 2]
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "bench"))

from bench_extraction import machine  # noqa: E402
from study_workspace import copy_repository, run_snakemake  # noqa: E402

SAMRESNET34 = {"name": "samresnet34_random", "source": "random", "arch": "samresnet34", "seed": 0}
KEYS = ["model", "tap", "index", "target", "probe"]


def probe_r2(workdir: Path, models: list[str]) -> pd.DataFrame:
    tables = [pd.read_csv(workdir / "results" / "probes" / f"{m}.csv") for m in models]
    table = pd.concat(tables)
    return table[table["metric"] == "r2"].set_index(KEYS)[["value", "ci_low", "ci_high"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--precision", default="bfloat16", choices=("bfloat16", "float16"))
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    print("command:", shlex.join([sys.executable, *sys.argv]))
    print("machine:", machine())

    models = [SAMRESNET34]
    names = [str(m["name"]) for m in models]
    with tempfile.TemporaryDirectory() as scratch:
        workdir = copy_repository(Path(scratch) / "repository")
        targets = [f"results/probes/{name}.csv" for name in names]
        r2 = {}
        for precision in ("float32", args.precision):
            config = Path(scratch) / f"{precision}.yaml"
            settings = {"models": models, "activations": {"precision": precision}}
            config.write_text(yaml.safe_dump(settings, sort_keys=False))
            # Hours, not minutes, where the CPU emulates the lower precision.
            run_snakemake(
                workdir,
                "--cores",
                str(args.cores),
                *targets,
                configfiles=(config,),
                timeout_s=4 * 3600,
            )
            r2[precision] = probe_r2(workdir, names)

    exact, low = r2["float32"], r2[args.precision]
    joined = exact.join(low["value"].rename("low"), how="inner")
    joined["change"] = (joined["low"] - joined["value"]).abs()
    joined["half_width"] = (joined["ci_high"] - joined["ci_low"]) / 2
    joined["share"] = joined["change"] / joined["half_width"]
    print(f"{len(joined)} test R² values (models {', '.join(names)})")
    for model, rows in joined.groupby(level="model"):
        worst = rows["change"].idxmax()
        print(
            f"  {model:20s} largest |change| {rows['change'].max():.4f} at {worst[1:]}, "
            f"{rows.loc[worst, 'share']:.3f} of its interval's half-width"
        )
    worst = joined["change"].idxmax()
    print(
        f"largest |R² change| {args.precision} vs float32: {joined['change'].max():.4f} "
        f"({worst}); largest as a share of the interval's half-width: "
        f"{joined['share'].max():.3f}; median half-width {joined['half_width'].median():.4f}"
    )


if __name__ == "__main__":
    main()
