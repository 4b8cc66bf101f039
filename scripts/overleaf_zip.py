"""Snakemake entry point: pack the rendered paper into paper/overleaf.zip."""

from pathlib import Path

from rateprobe.paper.overleaf import make_overleaf_zip

snakemake = globals()["snakemake"]

make_overleaf_zip(
    paper_dir=Path(snakemake.params.paper_dir),
    output_zip=Path(snakemake.output.zip),
    paper_cfg=snakemake.params.paper,
)
