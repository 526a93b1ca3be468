"""The seed catalogue as tests read it (imported as `seed_kit`: tests/ is on sys.path under pytest).

Product code reads the catalogue database (catalog.reader); tests about the seed's own contents read
the files, once per session.
"""

from __future__ import annotations

import functools

from catalog.selection import SEED_DIR
from catalog.spec import Catalogue, load_catalogue


@functools.cache
def seed_catalogue() -> Catalogue:
    return load_catalogue(SEED_DIR)
