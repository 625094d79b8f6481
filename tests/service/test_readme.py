"""The README's service examples work after `make run`: every artist its chatbot examples
ask about is one the default run ingests (a name of the default generated catalog, and
only one artist's, so that it is not recorded as ambiguous)."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

from tunelake.config import Settings
from tunelake.service.chat import artist_named
from tunelake.sources.catalog.generator import generate_catalog

README = Path(__file__).parents[2] / "README.md"


def service_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("### The service")
    return text[start : text.index("\n### ", start + 1)]


def test_the_readme_chatbot_examples_name_artists_of_the_default_run() -> None:
    bodies = re.findall(r"-d '(\{\"userRequest\".*?\})'", service_section())
    asked = [artist_named(json.loads(b)["userRequest"]["utterance"]) for b in bodies]
    assert len(asked) >= 2 and any(re.search("[\uac00-\ud7a3]", a) for a in asked)  # ko, en
    defaults = Settings.model_fields
    catalog = generate_catalog(
        defaults["catalog_seed"].default, defaults["catalog_artists"].default
    )
    ingested = set(catalog.seed_names())
    names = Counter(catalog.artist_names())
    for name in asked:
        assert name in ingested and names[name] == 1, name
