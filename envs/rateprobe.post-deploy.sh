#!/usr/bin/env bash
# Snakemake runs this once inside the freshly created envs/rateprobe.yaml environment, from its
# working directory: the repository root. It installs the project itself (its dependencies are
# already in the environment); editable, so jobs always run the checked-out code.
set -euo pipefail
if ! grep -qs '^name = "rateprobe"' pyproject.toml; then
  echo "envs/rateprobe.post-deploy.sh: $PWD is not the rateprobe repository root;" \
    "run snakemake from there" >&2
  exit 1
fi
python -m pip install --quiet --no-deps --no-build-isolation --editable .
