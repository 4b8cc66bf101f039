"""Reader of a corpus given as a table: one row per utterance, audio in any format and layout.

    path,text,speaker[,sex][,split]          (.csv; a .tsv or .tab file is tab-separated)

`path` is relative to the table's folder, or absolute; audio may be of any format soundfile
reads, at any sample rate and channel count (rateprobe.audio brings it to 16 kHz mono). `sex`
is F, M or empty; `split` is train, dev or test: without that column the splits are carved by
speaker (rateprobe.corpus.splits). Speaker ids are any text without path separators.

The table's structure (encoding, columns, a speaker in two splits or of two sexes) is a
configuration mistake and raises ValueError naming the table. Problems of single rows (a missing
or unreadable audio file, an empty transcript, an unknown split or sex, a speaker id that cannot
name a folder, an utterance id given twice) are returned as InputProblems named by `table:line`,
for the on_bad_input policy to decide.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Container
from dataclasses import dataclass
from pathlib import Path

from rateprobe.conventions import SPLITS
from rateprobe.corpus.librispeech import (
    InputProblem,
    Utterance,
    unusable_file_problem,
    without_duplicate_ids,
)

REQUIRED_COLUMNS = ("path", "text", "speaker")
OPTIONAL_COLUMNS = ("sex", "split")
TAB_SEPARATED_SUFFIXES = (".tsv", ".tab")
SEXES = ("F", "M", "")
MISSING_AUDIO = "audio file not found"
EMPTY_TRANSCRIPT = "empty transcript"
UNKNOWN_SPLIT = "unknown split"
UNKNOWN_SEX = "unknown sex"
INVALID_SPEAKER = "invalid speaker id"
# A row that belongs to no split (its split or speaker cannot be told) is reported once, by the
# first split's manifest, so that skipping counts it once.
REPORTING_SPLIT = SPLITS[0]
# Speaker ids name folders (the rate variants of rateprobe.corpus.tempo_variants) and start
# utterance ids.
_PATH_SEPARATORS = re.compile(r"[/\\]")
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class TableRow:
    where: str  # table:line, as messages name it
    path: Path  # the audio file, with the table's folder prefixed to a relative path
    text: str
    speaker: str
    sex: str
    split: str | None  # None: the table has no split column

    @property
    def utt_id(self) -> str:
        """`<speaker>-<audio file name without suffix>`, whitespace made `_`: deterministic,
        readable, and sorted by speaker like LibriSpeech's ids."""
        return _WHITESPACE.sub("_", f"{self.speaker}-{self.path.stem}")

    @property
    def speaker_problem(self) -> str | None:
        if not self.speaker:
            return "empty"
        if self.speaker in (".", "..") or _PATH_SEPARATORS.search(self.speaker):
            return f"'{self.speaker}' cannot name a folder (no '/', '\\', '.' or '..')"
        return None


def _delimiter(table: Path) -> str:
    return "\t" if table.suffix.lower() in TAB_SEPARATED_SUFFIXES else ","


def read_table(table: str | Path) -> list[TableRow]:
    """The rows of an utterance table; raises ValueError naming the table when its structure
    is wrong (not UTF-8, a required column missing, a column not known, no rows)."""
    table = Path(table)
    try:
        text = table.read_text(encoding="utf-8-sig")  # a spreadsheet's byte-order mark is no data
    except UnicodeDecodeError as err:
        raise ValueError(f"{table}: not UTF-8 ({err.reason} at byte {err.start})") from err
    # Not splitlines(): it also breaks at Unicode line separators a transcript may hold.
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=_delimiter(table))
    columns = [name.strip() for name in reader.fieldnames or []]
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    unknown = [name for name in columns if name not in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)]
    if missing or unknown:
        found = ", ".join(columns) or "none"
        raise ValueError(
            f"{table}: columns must be {', '.join(REQUIRED_COLUMNS)} and optionally "
            f"{', '.join(OPTIONAL_COLUMNS)}; found {found}"
            + (f" (missing: {', '.join(missing)})" if missing else "")
            + (f" (not known: {', '.join(unknown)})" if unknown else "")
        )
    reader.fieldnames = columns
    rows = []
    for fields in reader:
        if None in fields:  # more fields than columns: DictReader files them under None
            raise ValueError(f"{table}:{reader.line_num}: more fields than the header's columns")
        value = {name: (fields.get(name) or "").strip() for name in columns}
        audio = Path(value["path"])
        rows.append(
            TableRow(
                where=f"{table}:{reader.line_num}",
                path=audio if audio.is_absolute() else table.parent / audio,
                text=" ".join(value["text"].split()),
                speaker=value["speaker"],
                sex=value.get("sex", ""),
                split=value["split"] if "split" in columns else None,
            )
        )
    if not rows:
        raise ValueError(f"{table}: no utterances (only a header, or empty)")
    return rows


def table_speakers(rows: list[TableRow]) -> list[str]:
    """The speakers a split can be carved from: every speaker id that can name a folder."""
    return sorted({row.speaker for row in rows if row.speaker_problem is None})


def speakers_by_given_split(table: str | Path, rows: list[TableRow]) -> dict[str, list[str]]:
    """split -> speakers, from the table's split column; raises ValueError naming the rows when
    a speaker is given two splits (the splits must share no speaker)."""
    first_row: dict[str, TableRow] = {}
    for row in rows:
        if row.split not in SPLITS or row.speaker_problem is not None:
            continue  # a row problem, reported by scan_table
        seen = first_row.setdefault(row.speaker, row)
        if seen.split != row.split:
            raise ValueError(
                f"{table}: speaker '{row.speaker}' is in split '{seen.split}' at {seen.where} "
                f"and in '{row.split}' at {row.where}; the splits must share no speaker"
            )
    return {
        split: sorted(s for s, row in first_row.items() if row.split == split) for split in SPLITS
    }


def _speaker_sexes(table: Path, rows: list[TableRow]) -> dict[str, str]:
    sexes: dict[str, TableRow] = {}
    for row in rows:
        if row.sex not in ("F", "M"):
            continue
        seen = sexes.setdefault(row.speaker, row)
        if seen.sex != row.sex:
            raise ValueError(
                f"{table}: speaker '{row.speaker}' is given sex {seen.sex} at {seen.where} "
                f"and {row.sex} at {row.where}"
            )
    return {speaker: row.sex for speaker, row in sexes.items()}


def _row_problem(row: TableRow) -> InputProblem | None:
    """What keeps a row from being labelled, before its audio is decoded; None when nothing."""
    speaker = row.speaker_problem
    if speaker is not None:
        return InputProblem(row.where, INVALID_SPEAKER, speaker)
    if row.split is not None and row.split not in SPLITS:
        return InputProblem(
            row.where, UNKNOWN_SPLIT, f"'{row.split}', expected one of {', '.join(SPLITS)}"
        )
    if row.sex not in SEXES:
        return InputProblem(row.where, UNKNOWN_SEX, f"'{row.sex}', expected F, M or empty")
    if not row.text:
        return InputProblem(row.where, EMPTY_TRANSCRIPT, f"for {row.path}")
    if not row.path.exists() and not row.path.is_symlink():
        return InputProblem(row.where, MISSING_AUDIO, f"{row.path} does not exist")
    unusable = unusable_file_problem(row.path)
    if unusable is not None:
        return InputProblem(row.where, unusable.kind, f"{row.path}: {unusable.problem}")
    return None


def _reported_by(row: TableRow, split: str, speakers: Container[str]) -> bool:
    """Whether the manifest of `split` (of these speakers) reads or reports the row."""
    if row.speaker_problem is not None or (row.split is not None and row.split not in SPLITS):
        return split == REPORTING_SPLIT
    return row.speaker in speakers


def scan_table(
    table: str | Path, split: str, speakers: Container[str]
) -> tuple[list[Utterance], list[InputProblem], dict[str, str]]:
    """The utterances of one split's speakers, sorted by utt_id, the problems of its rows, and
    each speaker's sex (F/M; absent when not given)."""
    table = Path(table)
    rows = read_table(table)
    sexes = _speaker_sexes(table, rows)
    utterances: list[Utterance] = []
    problems: list[InputProblem] = []
    for row in rows:
        problem = _row_problem(row)
        if problem is not None:
            if _reported_by(row, split, speakers):
                problems.append(problem)
            continue
        utterance = Utterance(row.utt_id, row.speaker, "", row.path, row.text, row.where)
        utterances.append(utterance)
    # Ids must be unique over the whole table, not only within a split.
    utterances, duplicates = without_duplicate_ids(utterances)
    problems += [p for p in duplicates if _speaker_of(p, rows) in speakers]
    mine = [u for u in utterances if u.speaker_id in speakers]
    return sorted(mine, key=lambda u: u.utt_id), problems, sexes


def _speaker_of(problem: InputProblem, rows: list[TableRow]) -> str:
    """The speaker of the row a duplicate-id problem is named by."""
    return next(row.speaker for row in rows if row.where == problem.path)
