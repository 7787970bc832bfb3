"""WordNet's glosses as unlabelled English text: Debian's `wordnet-base` (/usr/share/wordnet, WordNet licence).

Each synset line of data.noun / data.verb / data.adj / data.adv ends in `| gloss`: a definition, then
example sentences in quotes, separated by "; ". Both kinds become examples — about 117k definitions
and 48k example sentences — read line by line (nothing held but the current line). The licence header
lines start with two spaces and are skipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

FILES = ("data.noun", "data.verb", "data.adj", "data.adv")
DEBIAN = Path("/usr/share/wordnet")


def is_wordnet(folder: Path) -> bool:
    """Whether `folder` holds WordNet's database files."""
    return all((Path(folder) / f).is_file() for f in FILES)


def glosses(folder: Path) -> Iterator[str]:
    """Definitions and example sentences, in file order: `(a) "the cat sat"` → `the cat sat`."""
    from .checks import utf8_lines  # a byte that is not UTF-8 names its file:line (exit 3)

    for name in FILES:
        for _, line in utf8_lines(Path(folder) / name):
            if line.startswith("  ") or " | " not in line:
                continue
            for part in line.split(" | ", 1)[1].split(";"):
                text = part.strip().strip('"').strip()
                if len(text) > 2:
                    yield text
