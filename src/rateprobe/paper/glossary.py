"""The paper's Russian vocabulary: terms a native-speaking editor chose, the calques they
replace, and numeral agreement.

Claims and templates use these words; tests/test_paper_glossary.py renders the paper and fails
when a replaced calque reappears, so wording drifts back only on purpose.
"""

from __future__ import annotations

# A model with the architecture of a trained one and random weights; "двойник" read as a
# literal "twin".
RANDOM_COPIES = "случайно инициализированные копии"
# A layer whose activations are probed; "отвод" (a "tap") is plumbing, not a network term.
LAYER = "слой"

# Calques the edited text must not contain (as word stems), and what replaced them.
REPLACED_CALQUES = {
    "двойник": RANDOM_COPIES,
    "отвод": LAYER,
    "контроли ": "контрольные модели",
    "ничего не выбирает": "не участвует в выборе",
}


def plural(n: int, one: str, few: str, many: str) -> str:
    """The form a Russian noun phrase takes after the numeral n: 1, 21 -> `one` (диктор);
    2-4, 22-24 -> `few` (диктора); 0, 5-20, 25-30 -> `many` (дикторов)."""
    if n % 10 == 1 and n % 100 != 11:
        return one
    if n % 10 in (2, 3, 4) and n % 100 not in (12, 13, 14):
        return few
    return many


def speakers_phrase(n: int) -> str:
    """`24 тестовых диктора`, `21 тестовый диктор`, `25 тестовых дикторов` (without the
    number, which the caller prints through the recorded formatter)."""
    return plural(n, "тестовый диктор", "тестовых диктора", "тестовых дикторов")
