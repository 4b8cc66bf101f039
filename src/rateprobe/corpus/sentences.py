"""A small English sentence generator for the synthetic corpus (nothing is downloaded).

A handful of phrase-structure rules over fixed word lists produce narrative sentences in the past
tense, like the audiobook prose of LibriSpeech, written as LibriSpeech transcripts are: upper
case, words separated by single spaces, no punctuation.
"""

from __future__ import annotations

import numpy as np

DETERMINERS = ("the", "a", "this", "that", "every", "one", "his", "her", "their", "our")
ADJECTIVES = (
    "old", "young", "quiet", "bright", "heavy", "small", "tall", "gentle", "cold", "warm",
    "strange", "careful", "hungry", "silver", "wooden", "distant", "narrow", "golden", "tired",
    "clever", "empty", "ancient", "patient", "little", "broken", "green", "lonely", "busy",
)  # fmt: skip
NOUNS = (
    "farmer", "captain", "teacher", "river", "garden", "window", "letter", "horse", "village",
    "doctor", "stranger", "mountain", "basket", "lantern", "soldier", "kitchen", "sailor",
    "forest", "child", "merchant", "bridge", "candle", "painter", "carriage", "servant", "island",
    "neighbour", "fisherman", "library", "castle", "shepherd", "traveller", "orchard", "king",
)  # fmt: skip
NAMES = (
    "john", "mary", "thomas", "anne", "edward", "margaret", "henry", "elizabeth", "robert",
    "catherine", "william", "susan", "arthur", "helen", "george", "lucy",
)  # fmt: skip
PRONOUNS = ("he", "she", "they", "we", "nobody", "everyone")
TRANSITIVE_VERBS = (
    "found", "carried", "watched", "opened", "followed", "painted", "remembered", "visited",
    "crossed", "answered", "praised", "noticed", "repaired", "described", "left", "met",
    "welcomed", "sold", "borrowed", "reached",
)  # fmt: skip
INTRANSITIVE_VERBS = (
    "waited", "laughed", "slept", "listened", "returned", "hesitated", "smiled", "arrived",
    "wandered", "spoke", "rested", "worked", "sang", "travelled",
)  # fmt: skip
PREPOSITIONS = ("near", "behind", "beside", "across", "under", "beyond", "towards", "around")
ADVERBS = (
    "slowly", "quietly", "again", "today", "afterwards", "carefully", "suddenly", "gladly",
    "at last", "that evening", "in the morning", "before dawn", "once more", "all day",
)  # fmt: skip
CONJUNCTIONS = ("and", "but", "while", "because", "so", "until", "although")
VOWELS = frozenset("aeiou")
MAX_TRIES = 500


def _pick(rng: np.random.Generator, words: tuple[str, ...]) -> str:
    return words[int(rng.integers(len(words)))]


def _noun_phrase(rng: np.random.Generator) -> list[str]:
    roll = rng.random()
    if roll < 0.15:
        return [_pick(rng, NAMES)]
    words = (
        [_pick(rng, ADJECTIVES), _pick(rng, NOUNS)] if rng.random() < 0.5 else [_pick(rng, NOUNS)]
    )
    determiner = _pick(rng, DETERMINERS)
    if determiner == "a" and words[0][0] in VOWELS:
        determiner = "an"
    return [determiner, *words]


def _clause(rng: np.random.Generator) -> list[str]:
    subject = [_pick(rng, PRONOUNS)] if rng.random() < 0.3 else _noun_phrase(rng)
    if rng.random() < 0.6:
        words = [*subject, _pick(rng, TRANSITIVE_VERBS), *_noun_phrase(rng)]
    else:
        words = [*subject, _pick(rng, INTRANSITIVE_VERBS)]
    if rng.random() < 0.5:
        words += [_pick(rng, PREPOSITIONS), *_noun_phrase(rng)]
    if rng.random() < 0.4:
        words += _pick(rng, ADVERBS).split()
    return words


def _sentence_words(rng: np.random.Generator) -> list[str]:
    words = _clause(rng)
    if rng.random() < 0.5:
        words += [_pick(rng, CONJUNCTIONS), *_clause(rng)]
    return words


def make_sentence(rng: np.random.Generator, min_words: int, max_words: int) -> str:
    """One upper-case sentence whose word count is drawn uniformly from [min_words, max_words]."""
    if not 1 <= min_words <= max_words:
        raise ValueError(f"need 1 <= min_words <= max_words, got {min_words}, {max_words}")
    target = int(rng.integers(min_words, max_words + 1))
    closest: list[str] = []
    for _ in range(MAX_TRIES):
        words = _sentence_words(rng)
        if len(words) == target:
            return " ".join(words).upper()
        if min_words <= len(words) <= max_words and (
            not closest or abs(len(words) - target) < abs(len(closest) - target)
        ):
            closest = words
    if not closest:
        raise ValueError(f"the grammar produced no sentence of {min_words}-{max_words} words")
    return " ".join(closest).upper()
