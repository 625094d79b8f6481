"""The fixed vocabulary the generator draws from: genres and their sound, markets, words."""

from __future__ import annotations

from dataclasses import dataclass

#: Continuous audio features, in the column order of the generator's feature matrices.
FEATURES: tuple[str, ...] = (
    "danceability",
    "energy",
    "loudness",
    "speechiness",
    "acousticness",
    "instrumentalness",
    "liveness",
    "valence",
    "tempo",
)

#: Valid range of each continuous feature (Spotify's documented bounds; tempo kept plausible).
FEATURE_BOUNDS: dict[str, tuple[float, float]] = {
    "danceability": (0.0, 1.0),
    "energy": (0.0, 1.0),
    "loudness": (-60.0, 0.0),
    "speechiness": (0.0, 1.0),
    "acousticness": (0.0, 1.0),
    "instrumentalness": (0.0, 1.0),
    "liveness": (0.0, 1.0),
    "valence": (0.0, 1.0),
    "tempo": (40.0, 220.0),
}

#: Decimals Spotify reports per feature.
FEATURE_DECIMALS: dict[str, int] = {f: 3 if f in ("loudness", "tempo") else 4 for f in FEATURES}

#: Spread of one artist's centre around its genre profile, per feature: kept well under the
#: gaps between genre profiles so that same-genre artists are each other's nearest neighbours.
ARTIST_SPREAD: dict[str, float] = {
    "danceability": 0.02,
    "energy": 0.02,
    "loudness": 0.5,
    "speechiness": 0.008,
    "acousticness": 0.02,
    "instrumentalness": 0.02,
    "liveness": 0.02,
    "valence": 0.02,
    "tempo": 2.0,
}

#: Spread of one track around its artist's centre: tracks vary more than artists do.
TRACK_SPREAD: dict[str, float] = {f: 2.5 * s for f, s in ARTIST_SPREAD.items()}


@dataclass(frozen=True)
class Genre:
    name: str
    profile: tuple[float, ...]
    """Mean of each of FEATURES, in that order."""
    major: float
    """Probability that a track is in a major key."""
    explicit: float
    """Probability that a track is explicit."""


# danceability, energy, loudness, speechiness, acousticness, instrumentalness, liveness,
# valence, tempo: chosen so that every pair of genres differs clearly on a few features.
GENRES: tuple[Genre, ...] = (
    Genre("pop", (0.68, 0.66, -5.5, 0.05, 0.18, 0.01, 0.14, 0.58, 118.0), 0.65, 0.08),
    Genre("rock", (0.48, 0.80, -5.5, 0.05, 0.05, 0.06, 0.20, 0.48, 134.0), 0.60, 0.06),
    Genre("hip hop", (0.80, 0.62, -6.5, 0.28, 0.14, 0.01, 0.17, 0.52, 92.0), 0.50, 0.45),
    Genre("r&b", (0.66, 0.46, -8.5, 0.11, 0.36, 0.03, 0.12, 0.42, 98.0), 0.45, 0.15),
    Genre("edm", (0.72, 0.88, -4.0, 0.07, 0.02, 0.50, 0.26, 0.38, 126.0), 0.50, 0.05),
    Genre("metal", (0.36, 0.95, -4.0, 0.10, 0.01, 0.25, 0.24, 0.22, 152.0), 0.40, 0.20),
    Genre("jazz", (0.56, 0.30, -14.0, 0.05, 0.80, 0.55, 0.14, 0.52, 108.0), 0.55, 0.01),
    Genre("classical", (0.26, 0.10, -23.0, 0.04, 0.95, 0.90, 0.11, 0.18, 84.0), 0.60, 0.0),
    Genre("country", (0.60, 0.64, -6.0, 0.04, 0.30, 0.01, 0.16, 0.66, 120.0), 0.80, 0.04),
    Genre("folk", (0.50, 0.30, -12.0, 0.04, 0.82, 0.08, 0.12, 0.40, 112.0), 0.70, 0.02),
    Genre("latin", (0.76, 0.78, -4.8, 0.09, 0.18, 0.01, 0.15, 0.80, 100.0), 0.55, 0.12),
    Genre("reggae", (0.82, 0.52, -8.0, 0.14, 0.12, 0.06, 0.10, 0.78, 82.0), 0.60, 0.06),
    Genre("ambient", (0.30, 0.18, -19.0, 0.04, 0.70, 0.88, 0.10, 0.08, 90.0), 0.50, 0.0),
    Genre("punk", (0.42, 0.96, -3.8, 0.08, 0.01, 0.02, 0.32, 0.58, 176.0), 0.65, 0.25),
    Genre("soul", (0.58, 0.50, -9.5, 0.05, 0.45, 0.02, 0.16, 0.68, 104.0), 0.60, 0.03),
    Genre("techno", (0.74, 0.80, -8.5, 0.06, 0.02, 0.86, 0.11, 0.22, 132.0), 0.45, 0.01),
)

#: Markets (ISO 3166-1 alpha-2) a release can be available in.
MARKETS: tuple[str, ...] = (
    "AD", "AR", "AT", "AU", "BE", "BG", "BO", "BR", "CA", "CH", "CL", "CO", "CR", "CY",
    "CZ", "DE", "DK", "DO", "EC", "EE", "ES", "FI", "FR", "GB", "GR", "GT", "HK", "HN",
    "HU", "ID", "IE", "IS", "IT", "JP", "KR", "LT", "LU", "LV", "MX", "MY", "NL", "NO",
    "NZ", "PE", "PH", "PL", "PT", "SE", "SG", "SK", "TR", "TW", "US", "UY",
)  # fmt: skip

#: Regional releases: the market subsets an album may be limited to.
REGIONS: tuple[tuple[str, ...], ...] = (
    ("AR", "BO", "BR", "CL", "CO", "CR", "DO", "EC", "GT", "HN", "MX", "PE", "UY", "US"),
    ("AD", "AT", "BE", "CH", "DE", "DK", "ES", "FI", "FR", "GB", "IE", "IT", "NL", "NO", "SE"),
    ("AU", "HK", "ID", "JP", "KR", "MY", "NZ", "PH", "SG", "TW"),
    ("CA", "GB", "IE", "US"),
)

LABELS: tuple[str, ...] = (
    "Lakeside Records", "Northern Lights Music", "Blue Heron Recordings", "Copperline",
    "Paper Moon Audio", "Harbour Street", "Glasshouse Sound", "Open Field Records",
    "Midnight Orchard", "Stonebridge Music Group",
)  # fmt: skip

#: ISO country codes used as ISRC prefixes.
ISRC_COUNTRIES: tuple[str, ...] = ("US", "GB", "DE", "FR", "SE", "KR", "JP", "BR", "CA", "AU")

ADJECTIVES: tuple[str, ...] = (
    "Velvet", "Silver", "Golden", "Hollow", "Electric", "Quiet", "Wild", "Crimson", "Paper",
    "Neon", "Broken", "Distant", "Lucky", "Midnight", "Northern", "Restless", "Crystal",
    "Marble", "Burning", "Gentle", "Savage", "Blue", "Scarlet", "Faded", "Honest", "Lonely",
    "Rusty", "Shining", "Sleepy", "Wandering", "Young", "Ancient", "Bright", "Cosmic", "Dusty",
    "Early", "Frozen", "Hidden", "Iron", "Jagged", "Kind", "Little", "Magnetic", "Narrow",
    "Open", "Pale", "Royal", "Secret", "Tender", "Violet", "Wicked", "Amber", "Copper",
    "Emerald", "Lunar", "Solar", "Static", "Sugar", "Thunder", "Velour",
)  # fmt: skip

NOUNS: tuple[str, ...] = (
    "Fox", "Harbor", "River", "Engine", "Garden", "Mirror", "Signal", "Lantern", "Comet",
    "Valley", "Tiger", "Wave", "Machine", "Season", "Shadow", "Window", "Island", "Canyon",
    "Circuit", "Desert", "Falcon", "Forest", "Ghost", "Horizon", "Jungle", "Kingdom", "Lion",
    "Meadow", "Ocean", "Parade", "Rocket", "Satellite", "Temple", "Thunder", "Echo", "Atlas",
    "Bridge", "Cathedral", "Dynamo", "Ember", "Frontier", "Glacier", "Harvest", "Ivory",
    "Jewel", "Kite", "Lighthouse", "Mountain", "Nebula", "Orchard", "Pilot", "Quarry",
    "Raven", "Summit", "Tide", "Voyage", "Wolf", "Orbit", "Prism", "Sparrow",
)  # fmt: skip

FIRST_NAMES: tuple[str, ...] = (
    "Mara", "Elliot", "June", "Theo", "Ada", "Felix", "Nora", "Jonah", "Iris", "Silas",
    "Hazel", "Milo", "Ruby", "Oscar", "Clara", "Leo", "Vera", "Arlo", "Esme", "Hugo",
    "Lena", "Otis", "Maeve", "Caleb", "Wren", "Jasper", "Ivy", "Rowan", "Stella", "Eli",
    "Dara", "Nico", "Tessa", "Reid", "Alma", "Cyrus", "Faye", "Gideon", "Lila", "Emmett",
)  # fmt: skip

LAST_NAMES: tuple[str, ...] = (
    "Quinn", "Hart", "Fairweather", "Lowell", "Marsh", "Holloway", "Pike", "Sterling",
    "Vance", "Whitlock", "Ashford", "Blackwood", "Carver", "Dalton", "Ellery", "Fenwick",
    "Garland", "Hayes", "Kerrigan", "Lockhart", "Mercer", "Nightingale", "Oakley", "Prescott",
    "Redfield", "Sinclair", "Thornton", "Underwood", "Winslow", "Yardley", "Abernathy",
    "Brennan", "Calloway", "Draper", "Everly", "Finch", "Grey", "Harlow", "Ingram", "Keane",
)  # fmt: skip

#: Syllables of invented English-like words ("Kalvero", "Mirandel").
SYLLABLES: tuple[str, ...] = (
    "ka", "lo", "mi", "ran", "del", "vo", "sen", "ta", "ri", "mo", "nel", "za", "ber", "lin",
    "do", "ra", "vin", "ca", "mar", "el", "tor", "li", "sa", "no", "ven", "dra", "cor", "an",
)  # fmt: skip

BAND_WORDS: tuple[str, ...] = (
    "Collective", "Orchestra", "Trio", "Quartet", "Brothers", "Sisters", "Ensemble",
    "Project", "Society", "Club", "Band", "Crew", "Sound System", "Choir",
)  # fmt: skip

ACCENTED_FIRST: tuple[str, ...] = (
    "José", "Zoë", "Renée", "Björn", "Søren", "Mélanie", "Andrés", "Chloé", "Joël", "Inês",
    "Łukasz", "Agnès", "Ñico", "Müge", "Ángela", "Františka", "Dóra", "Raphaël", "Jürgen",
    "Océane",
)  # fmt: skip

ACCENTED_LAST: tuple[str, ...] = (
    "Muñoz", "Gómez", "Müller", "Ødegaard", "Sánchez", "Lefèvre", "Çelik", "Núñez", "Šimić",
    "Þórsson", "Dvořák", "Héroux", "Åberg", "Gonçalves", "Wójcik", "Bjørnstad", "Pérez",
    "Özdemir", "Kováč", "Fontaine-Légaré",
)  # fmt: skip

JAPANESE_FAMILY: tuple[str, ...] = (
    "佐藤", "鈴木", "高橋", "田中", "渡辺", "伊藤", "山本", "中村", "小林", "加藤",
    "吉田", "山田", "松本", "井上", "木村",
)  # fmt: skip

JAPANESE_GIVEN: tuple[str, ...] = (
    "陽菜", "結衣", "蓮", "湊", "大翔", "美咲", "翔太", "葵", "凛", "悠真", "さくら",
    "ひかり", "健太", "由美", "拓海",
)  # fmt: skip

#: Katakana syllables for band names ("サクラミ").
KATAKANA: tuple[str, ...] = (
    "サ", "ク", "ラ", "ミ", "カ", "ハ", "ル", "ユ", "キ", "ソ", "ト", "モ", "ナ", "リ",
    "レ", "ン", "ヒ", "タ", "マ", "ホ",
)  # fmt: skip

KOREAN_FAMILY: tuple[str, ...] = ("김", "이", "박", "최", "정", "강", "조", "윤", "장", "임")

#: Hangul syllables given names are made of.
KOREAN_GIVEN: tuple[str, ...] = (
    "하", "늘", "민", "준", "서", "연", "지", "우", "수", "아", "현", "은", "도", "윤",
    "예", "린", "태", "희", "성", "빈",
)  # fmt: skip

TRACK_WORDS: tuple[str, ...] = (
    "Love", "Night", "Summer", "Heart", "Fire", "Rain", "Dream", "Light", "Home", "Road",
    "City", "Sky", "Gold", "Stars", "Morning", "Dance", "Storm", "Blue", "Echoes", "Ghosts",
    "Waves", "Roses", "Letters", "Neon", "Paper", "Silence", "Thunder", "Winter", "Water",
    "Wires", "Youth", "Bones", "Canyon", "Daylight", "Fever", "Glass", "Horizon", "Islands",
    "Jasmine", "Kites", "Lanterns", "Mirrors", "Northern", "Oceans", "Parade", "Rivers",
)  # fmt: skip

TRACK_PATTERNS: tuple[str, ...] = (
    "{a} {b}", "{a} of {b}", "The {a}", "{a} & {b}", "Under the {a}", "{a} ({b} Mix)",
    "No More {a}", "{a} Tonight", "Chasing {a}", "{a} in the {b}", "Lost {a}", "{a}",
)  # fmt: skip
