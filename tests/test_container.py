"""The Docker and Apptainer definitions build the same image, the one the Snakefile names."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = (REPO / "container" / "Dockerfile").read_text()
APPTAINER_DEF = (REPO / "container" / "rateprobe.def").read_text()


def _apt_packages(text: str) -> list[str]:
    match = re.search(r"apt-get install ((?:[^\n&]|\\\n)+)", text)
    assert match, "no apt-get install line"
    words = match.group(1).replace("\\\n", " ").split()
    return sorted(word for word in words if not word.startswith("-"))


def test_both_definitions_install_the_same_base_then_run_bin_setup() -> None:
    assert _apt_packages(DOCKERFILE) == _apt_packages(APPTAINER_DEF)
    assert "RUN bin/setup" in DOCKERFILE
    assert "\n    /opt/rateprobe/bin/setup\n" in APPTAINER_DEF
    docker_env = dict(re.findall(r"(\w+)=(\S+)", DOCKERFILE.split("\nENV ", 1)[1]))
    apptainer_env = dict(re.findall(r"export (\w+)=(\S+)", APPTAINER_DEF))
    assert docker_env == apptainer_env


def test_the_snakefile_uses_the_image_both_build_commands_write() -> None:
    image = re.search(r'^container: "([^"]+)"', (REPO / "Snakefile").read_text(), re.MULTILINE)
    assert image, "the Snakefile has no global container: directive"
    assert f"apptainer build {image.group(1)} docker-daemon://" in DOCKERFILE
    assert f"apptainer build --fakeroot {image.group(1)} container/rateprobe.def" in APPTAINER_DEF
