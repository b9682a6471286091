from __future__ import annotations

import pytest

from fangpin.packs import Pack, load_pack
from tests.support import PACK_2019


@pytest.fixture(scope="session")
def pack() -> Pack:
    return load_pack(PACK_2019)
