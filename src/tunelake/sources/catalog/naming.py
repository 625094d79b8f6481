"""Names of artists, albums and tracks.

Artist names are drawn up front (search needs them all); album and track names are derived on
demand from a hash of (seed, index), so a catalog of millions of tracks stores none of them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from tunelake.names import normalise_name
from tunelake.sources.catalog import vocab

Draw = Callable[[Sequence[str]], str]


def _plural(noun: str) -> str:
    if noun.endswith("f"):
        return noun[:-1] + "ves"
    if noun.endswith(("s", "x", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


def _the_adjective_nouns(pick: Draw) -> str:
    return f"The {pick(vocab.ADJECTIVES)} {_plural(pick(vocab.NOUNS))}"


def _adjective_noun(pick: Draw) -> str:
    return f"{pick(vocab.ADJECTIVES)} {pick(vocab.NOUNS)}"


def _person(pick: Draw) -> str:
    return f"{pick(vocab.FIRST_NAMES)} {pick(vocab.LAST_NAMES)}"


def _invented(pick: Draw) -> str:
    syllables = int(pick(("2", "3", "3", "4")))
    return "".join(pick(vocab.SYLLABLES) for _ in range(syllables)).capitalize()


def _person_and_band(pick: Draw) -> str:
    return f"{pick(vocab.FIRST_NAMES)} & The {_plural(pick(vocab.NOUNS))}"


def _noun_band(pick: Draw) -> str:
    return f"{pick(vocab.NOUNS)} {pick(vocab.BAND_WORDS)}"


def _accented(pick: Draw) -> str:
    return f"{pick(vocab.ACCENTED_FIRST)} {pick(vocab.ACCENTED_LAST)}"


def _japanese(pick: Draw) -> str:
    if pick(("person", "band")) == "person":
        return f"{pick(vocab.JAPANESE_FAMILY)} {pick(vocab.JAPANESE_GIVEN)}"
    return "".join(pick(vocab.KATAKANA) for _ in range(4))


def _korean(pick: Draw) -> str:
    return pick(vocab.KOREAN_FAMILY) + pick(vocab.KOREAN_GIVEN) + pick(vocab.KOREAN_GIVEN)


# (pattern, weight): mostly English-like, with some accented Latin, Japanese and Korean names.
ARTIST_PATTERNS: tuple[tuple[Callable[[Draw], str], float], ...] = (
    (_the_adjective_nouns, 0.16),
    (_adjective_noun, 0.16),
    (_person, 0.22),
    (_invented, 0.14),
    (_person_and_band, 0.06),
    (_noun_band, 0.08),
    (_accented, 0.08),
    (_japanese, 0.05),
    (_korean, 0.05),
)


def artist_names(rng: np.random.Generator, n: int, shared: int) -> tuple[list[str], list[str]]:
    """`n` names and their normalised forms: distinct after normalisation, except `shared`
    artists that copy the exact name of an earlier artist (real catalogues have several
    artists called the same)."""
    weights = np.array([w for _, w in ARTIST_PATTERNS])
    patterns = rng.choice(len(ARTIST_PATTERNS), size=n, p=weights / weights.sum())
    stream = _int_stream(rng)

    def pick(options: Sequence[str]) -> str:
        return options[next(stream) % len(options)]

    names: list[str] = []
    normalised: list[str] = []
    seen: set[str] = set()
    for pattern in patterns:
        name = ARTIST_PATTERNS[pattern][0](pick)
        key = normalise_name(name)
        # a chance collision would be an unintended ambiguity: a first name and an invented
        # surname come from a space large enough to find a free name quickly
        while key in seen:
            name = f"{pick(vocab.FIRST_NAMES)} {_invented(pick)}"
            key = normalise_name(name)
        seen.add(key)
        names.append(name)
        normalised.append(key)
    if n > 1:
        for i in rng.choice(np.arange(1, n), size=min(shared, n - 1), replace=False):
            original = int(rng.integers(i))
            names[i], normalised[i] = names[original], normalised[original]
    return names, normalised


def _int_stream(rng: np.random.Generator) -> Iterator[int]:
    """Random ints drawn in blocks: one numpy call per block, not per pick."""
    while True:
        yield from rng.integers(0, 2**31, size=1 << 16).tolist()


def _hash_picks(*key: object) -> Draw:
    """A deterministic `pick` fed from a hash of `key`: derived names need no stored state."""
    digest = hashlib.blake2b(repr(key).encode(), digest_size=16).digest()
    state = iter(digest)

    def pick(options: Sequence[str]) -> str:
        return options[next(state) % len(options)]

    return pick


def derived_title(seed: int, kind: str, index: int) -> str:
    """The title of album or track `index`, the same for a seed every time it is asked for."""
    pick = _hash_picks(seed, kind, index)
    return pick(vocab.TRACK_PATTERNS).format(a=pick(vocab.TRACK_WORDS), b=pick(vocab.TRACK_WORDS))


def derived_hex(seed: int, *key: object, length: int = 40) -> str:
    """A stable hex token, e.g. the file part of an image or preview URL."""
    return hashlib.blake2b(repr((seed, *key)).encode(), digest_size=length // 2).hexdigest()
