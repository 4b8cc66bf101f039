"""The worked example of docs/own-corpus.md end to end: a Russian corpus of WAV files listed in
a table (corpus.kind: table), built by Snakemake up to the paper (its PDF where TeX is
installed, else its rendered LaTeX).

espeak-ng reads Russian sentences in 14 voices; its 22.05 kHz WAV files are resampled on the
way in, the speakers are carved into splits from the table, and the paper must name the corpus
as its config does, never as LibriSpeech.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml
from paper_support import assert_pdf_shows_summary_numbers, normalised_text
from study_workspace import copy_repository, run_snakemake

from rateprobe.audio import RESAMPLER
from rateprobe.corpus.synthetic import ESPEAK, VARIANTS
from rateprobe.labels import count_chars

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not all(shutil.which(tool) for tool in (ESPEAK, "rubberband")),
        reason="needs espeak-ng (speech) and rubberband (the rate interventions)",
    ),
]

SENTENCES = (
    "Съешь же ещё этих мягких французских булок, да выпей чаю.",
    "В чащах юга жил бы цитрус? Да, но фальшивый экземпляр!",
    "Широкая электрификация южных губерний даст мощный толчок подъёму сельского хозяйства.",
    "Мороз и солнце, день чудесный, ещё ты дремлешь, друг прелестный.",
)
NAME = "Чтения espeak-ng"
DESCRIPTION = "русские фразы, прочитанные синтезатором речи разными голосами и с разной скоростью"
# 14 speakers carved 6 / 4 / 4, as the small synthetic study splits them.
FRACTIONS = {"train": 0.43, "dev": 0.285, "test": 0.285}


def write_russian_corpus(folder: Path) -> Path:
    """WAV files spoken by espeak-ng's Russian voice in 14 variants, and their table."""
    voices = [("F", v) for v in VARIANTS["F"][:7]] + [("M", v) for v in VARIANTS["M"][:7]]
    rows = []
    for number, (sex, variant) in enumerate(voices):
        speaker = f"диктор {number:02d}"
        for i, text in enumerate(SENTENCES):
            wav = Path("wav") / f"{number:02d}" / f"фраза{i}.wav"
            (folder / wav).parent.mkdir(parents=True, exist_ok=True)
            wpm = 110 + 45 * ((number + i) % 4)  # rates that differ within each speaker
            subprocess.run(
                [ESPEAK, "-v", f"ru+{variant}", "-s", str(wpm), "-w", str(folder / wav), text],
                check=True,
            )
            rows.append({"path": wav.as_posix(), "text": text, "speaker": speaker, "sex": sex})
    table = folder / "utterances.csv"
    with table.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["path", "text", "speaker", "sex"])
        writer.writeheader()
        writer.writerows(rows)
    return table


@pytest.fixture(scope="module")
def own_corpus_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = copy_repository(tmp_path_factory.mktemp("own-corpus"))
    table = write_russian_corpus(tmp_path_factory.mktemp("recordings"))
    config = workdir / "own-corpus.yaml"
    corpus = {"kind": "table", "table": str(table), "name": NAME, "description": DESCRIPTION,
              "carve_by_speaker": {"fractions": FRACTIONS, "seed": 0}}  # fmt: skip
    config.write_text(yaml.safe_dump({"corpus": corpus}, allow_unicode=True), encoding="utf-8")
    target = "paper/main.pdf" if shutil.which("latexmk") else "paper/main.tex"
    run_snakemake(workdir, "--cores", "2", "--max-threads", "1", target, configfiles=(config,))
    return workdir


def test_the_manifests_label_cyrillic_text_from_resampled_wav(own_corpus_study: Path) -> None:
    folder = own_corpus_study / "results" / "manifests"
    manifests = {
        split: pd.read_csv(folder / f"{split}.csv", dtype=str, keep_default_na=False)
        for split in ("train", "dev", "test")
    }
    assert [m.speaker_id.nunique() for m in manifests.values()] == [6, 4, 4]
    every = pd.concat(manifests.values())
    assert len(every) == 14 * len(SENTENCES) and every.utt_id.is_unique
    assert every.utt_id.str.match(r"^диктор_\d\d-фраза\d$").all()
    assert (every.n_chars.astype(int) == every.text.map(count_chars)).all()
    assert set(every.n_chars.astype(int)) == {count_chars(text) for text in SENTENCES}
    assert set(every.sex) == {"F", "M"}
    report = json.loads((folder / "test.bad.json").read_text())
    assert report["files"] == []
    assert {c["conversion"] for c in report["converted"]} == {
        f"resampled 22050 Hz to 16000 Hz ({RESAMPLER})"
    }


def test_the_paper_names_the_corpus_as_configured(own_corpus_study: Path) -> None:
    summary = json.loads((own_corpus_study / "results" / "summary.json").read_text())
    assert summary["run"]["corpus_kind"] == "table"
    assert summary["run"]["corpus_name"] == NAME
    generated = own_corpus_study / "paper" / "generated"
    methods = (generated / "methodology.tex").read_text(encoding="utf-8")
    assert f"Все результаты получены на корпусе {NAME}. Русские фразы, прочитанные" in methods
    abstract = (generated / "abstract.tex").read_text(encoding="utf-8")
    assert f"Эксперименты проведены на корпусе {NAME}." in abstract
    paper = "".join(p.read_text(encoding="utf-8") for p in generated.glob("*.tex"))
    assert "корпуса LibriSpeech" not in paper and "синтетическом" not in paper


def test_the_pdf_prints_the_corpus_name_and_its_own_numbers(own_corpus_study: Path) -> None:
    pdf = own_corpus_study / "paper" / "main.pdf"
    if not pdf.is_file() or not all(shutil.which(t) for t in ("pdftotext", "pdfinfo")):
        pytest.skip("compiling and reading the PDF needs latexmk and poppler-utils")
    summary = json.loads((own_corpus_study / "results" / "summary.json").read_text())
    assert_pdf_shows_summary_numbers(pdf, summary)
    unhyphenated = re.sub(r"(\w)- (\w)", r"\1\2", normalised_text(pdf))
    assert "на корпусе Чтения" in unhyphenated
