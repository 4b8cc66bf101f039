"""Reader of the official LibriSpeech layout.

    <root>/LibriSpeech/<subset>/<speaker>/<chapter>/<speaker>-<chapter>-<utt>.flac
    <root>/LibriSpeech/<subset>/<speaker>/<chapter>/<speaker>-<chapter>.trans.txt
    <root>/LibriSpeech/SPEAKERS.TXT   (optional: speaker sex)

Scanning never stops at the first problem: every inconsistency between transcripts and audio
files, every transcript that is not UTF-8, every utterance id given more than once, every file
that cannot be opened (a symbolic link to nothing or into a loop, no read permission) and every
speaker or chapter folder that is not named by a number is returned as an InputProblem, so the
caller can report all of them at once.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections import defaultdict
from collections.abc import Container, Iterable
from dataclasses import dataclass
from pathlib import Path

AUDIO_SUFFIX = ".flac"
TRANSCRIPT_SUFFIX = ".trans.txt"
LIBRISPEECH_ID = re.compile(r"[0-9]+")  # speaker and chapter folders are numbers
DUPLICATE_ID = "duplicate utterance id"


@dataclass(frozen=True)
class Utterance:
    utt_id: str
    speaker_id: str
    chapter_id: str  # empty for a table corpus
    path: Path
    text: str
    where: str = ""  # the transcript's or table's line it was read from, as file:line


@dataclass(frozen=True)
class InputProblem:
    path: str
    kind: str  # short category, counted in reports
    detail: str = ""

    @property
    def problem(self) -> str:
        return f"{self.kind}: {self.detail}" if self.detail else self.kind


def file_system_problem(path: Path, error: OSError) -> InputProblem:
    """The InputProblem of a listed file that the operating system refused to open."""
    if error.errno == errno.ELOOP:
        return InputProblem(str(path), "symbolic link loop", "resolving it leads back to itself")
    if error.errno == errno.ENOENT and path.is_symlink():
        target = os.readlink(path)
        return InputProblem(
            str(path), "broken symbolic link", f"its target {target} does not exist"
        )
    if error.errno in (errno.EACCES, errno.EPERM):
        return InputProblem(str(path), "unreadable file", "no read permission for this user")
    return InputProblem(str(path), "unreadable file", error.strerror or str(error))


def unusable_file_problem(path: Path) -> InputProblem | None:
    """Why a listed file cannot be read as a file, or None when it can be opened."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):  # a folder or a pipe named like audio
            return InputProblem(str(path), "not a regular file")
        with path.open("rb"):
            return None
    except OSError as error:
        return file_system_problem(path, error)


def corpus_dir(root: str | Path) -> Path:
    return Path(root) / "LibriSpeech"


def subset_dir(root: str | Path, subset: str) -> Path:
    return corpus_dir(root) / subset


def read_speaker_sex(root: str | Path) -> dict[str, str]:
    """speaker id -> 'F'/'M' from SPEAKERS.TXT; empty when the file is absent."""
    table = corpus_dir(root) / "SPEAKERS.TXT"
    if not table.is_file():
        return {}
    try:
        text = table.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{table}: not UTF-8 ({err.reason} at byte {err.start})") from err
    sex = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith(";"):
            continue
        # Names may themselves contain '|' (e.g. "|CBW|Simon"), so split off the fixed fields only.
        fields = [f.strip() for f in line.split("|", 4)]
        if len(fields) < 2 or fields[1] not in ("F", "M"):
            raise ValueError(f"{table}:{number}: expected 'ID | SEX | ...', got {line!r}")
        sex[fields[0]] = fields[1]
    return sex


# Download sizes of the official archives (openslr resource 12), for the hint below.
SUBSET_ARCHIVE_SIZES = {
    "dev-clean": "337 MB",
    "dev-other": "314 MB",
    "test-clean": "346 MB",
    "test-other": "328 MB",
    "train-clean-100": "6.3 GB",
    "train-clean-360": "23 GB",
    "train-other-500": "30 GB",
}


def subset_speakers(root: str | Path, subset: str) -> list[str]:
    """Speaker ids of one subset, sorted; raises FileNotFoundError when the subset is absent."""
    if not Path(root).is_dir():
        raise FileNotFoundError(
            f"corpus.root '{root}' does not exist (relative paths start at {Path.cwd()}): point "
            "it at the folder that holds LibriSpeech/, e.g. the course's ../shared/"
            "librispeech-sample beside the repository, or a folder to download into"
        )
    directory = subset_dir(root, subset)
    if not directory.is_dir():
        size = SUBSET_ARCHIVE_SIZES.get(subset)
        fetch = f"fetch it ({size})" if size else "fetch it"
        raise FileNotFoundError(
            f"LibriSpeech subset '{subset}' not found: no folder {directory} "
            f"(set corpus.download: true to {fetch}, or point corpus.root at an extraction)"
        )
    return [p.name for p in _numbered_folders(directory, "speaker")[0]]


def _numbered_folders(parent: Path, level: str) -> tuple[list[Path], list[InputProblem]]:
    """The sorted subfolders of `parent` named by a LibriSpeech id, and a problem for each other
    subfolder (a stray copy, a notebook's checkpoints): it is not read."""
    folders = sorted(p for p in parent.iterdir() if p.is_dir())
    problems = [
        InputProblem(
            str(p), f"not a LibriSpeech {level} folder", "its name is not a number; not read"
        )
        for p in folders
        if not LIBRISPEECH_ID.fullmatch(p.name)
    ]
    return [p for p in folders if LIBRISPEECH_ID.fullmatch(p.name)], problems


def chapter_folders(
    root: str | Path, subsets: Iterable[str]
) -> tuple[list[Path], list[InputProblem]]:
    """The chapter folders of the subsets, sorted, and the folders that are not LibriSpeech's."""
    chapters: list[Path] = []
    problems: list[InputProblem] = []
    for subset in subsets:
        speakers, stray = _numbered_folders(subset_dir(root, subset), "speaker")
        problems += stray
        for speaker in speakers:
            found, stray = _numbered_folders(speaker, "chapter")
            chapters += found
            problems += stray
    return sorted(chapters), problems


def _chapter_audio(chapter: Path) -> tuple[dict[str, Path], dict[str, InputProblem]]:
    """The chapter's audio files by utterance id, and the problem of each that cannot be opened."""
    audio: dict[str, Path] = {}
    unusable: dict[str, InputProblem] = {}
    for path in chapter.glob(f"*{AUDIO_SUFFIX}"):
        problem = unusable_file_problem(path)
        if problem is None:
            audio[path.name[: -len(AUDIO_SUFFIX)]] = path
        else:
            unusable[path.name[: -len(AUDIO_SUFFIX)]] = problem
    return audio, unusable


def _transcript_lines(transcript: Path, n_audio: int) -> tuple[list[str], InputProblem | None]:
    """The lines of a chapter's transcript (none when it has none), or why it cannot be read."""
    if not transcript.is_file() and not transcript.is_symlink():
        return [], None
    not_read = f"the chapter's {n_audio} audio files are not read"
    try:
        return transcript.read_text(encoding="utf-8").splitlines(), None
    except UnicodeDecodeError as err:
        detail = f"{err.reason} at byte {err.start}; {not_read}"
        return [], InputProblem(str(transcript), "transcript not UTF-8", detail)
    except OSError as err:
        problem = file_system_problem(transcript, err)
        return [], InputProblem(problem.path, problem.kind, f"{problem.detail}; {not_read}")


def _scan_chapter(chapter: Path) -> tuple[list[Utterance], list[InputProblem]]:
    speaker_id, chapter_id = chapter.parent.name, chapter.name
    transcript = chapter / f"{speaker_id}-{chapter_id}{TRANSCRIPT_SUFFIX}"
    audio, unusable = _chapter_audio(chapter)
    lines, unread = _transcript_lines(transcript, len(audio) + len(unusable))
    utterances: list[Utterance] = []
    problems: list[InputProblem] = list(unusable.values())
    if unread is not None:
        return [], [unread, *problems]
    transcribed: set[str] = set()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        utt_id, _, text = line.strip().partition(" ")
        text = " ".join(text.split())
        if not utt_id.startswith(f"{speaker_id}-{chapter_id}-"):
            problems.append(
                InputProblem(
                    f"{transcript}:{number}",
                    "malformed transcript line",
                    f"utterance id '{utt_id}' is not of chapter {speaker_id}-{chapter_id}",
                )
            )
            continue
        transcribed.add(utt_id)
        if utt_id in unusable:
            continue  # reported above, as what keeps its audio unread
        if utt_id not in audio:
            problems.append(
                InputProblem(
                    str(chapter / f"{utt_id}{AUDIO_SUFFIX}"), "transcript line without audio"
                )
            )
        elif not text:
            problems.append(InputProblem(str(audio[utt_id]), "empty transcript"))
        else:
            where = f"{transcript}:{number}"
            utterances.append(Utterance(utt_id, speaker_id, chapter_id, audio[utt_id], text, where))
    for utt_id in sorted(set(audio) - transcribed):
        problems.append(InputProblem(str(audio[utt_id]), "audio without transcript"))
    return utterances, problems


def without_duplicate_ids(
    utterances: list[Utterance],
) -> tuple[list[Utterance], list[InputProblem]]:
    """The utterances whose id is given once, and a problem for each id given more often (twice
    in a transcript, or in a chapter copied into two subsets): which line belongs to the audio
    cannot be told, so none of them is kept."""
    places: dict[str, list[str]] = defaultdict(list)
    for utt in utterances:
        places[utt.utt_id].append(utt.where)
    problems = [
        InputProblem(
            where[0],
            DUPLICATE_ID,
            f"'{utt_id}' is given again at {', '.join(where[1:])}; "
            f"none of its {len(where)} lines is read",
        )
        for utt_id, where in places.items()
        if len(where) > 1
    ]
    return [u for u in utterances if len(places[u.utt_id]) == 1], problems


def scan_subsets(
    root: str | Path, subsets: Iterable[str], speakers: Container[str] | None = None
) -> tuple[list[Utterance], list[InputProblem]]:
    """All utterances of the subsets (optionally only some speakers), sorted by utt_id, and the
    problems of the files and folders that are not read."""
    subsets = list(subsets)
    for subset in subsets:
        subset_speakers(root, subset)  # a missing subset is a configuration error, not bad input
    utterances: list[Utterance] = []
    chapters, problems = chapter_folders(root, subsets)
    for chapter in chapters:
        if speakers is not None and chapter.parent.name not in speakers:
            continue
        found, trouble = _scan_chapter(chapter)
        utterances += found
        problems += trouble
    utterances, duplicates = without_duplicate_ids(utterances)
    return sorted(utterances, key=lambda u: u.utt_id), problems + duplicates
