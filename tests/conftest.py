"""Shared test configuration: where the real Sentinel-2 samples are."""

from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
#: Real samples, read in place (never copied into the project).
REAL_DATA = (PROJECT_ROOT / ".." / "shared" / "data" / "real").resolve()


@pytest.fixture(scope="session")
def real_data() -> Path:
    if not REAL_DATA.is_dir():
        pytest.fail(f"real Sentinel-2 samples not found at {REAL_DATA} (shared/ must sit beside the project)")
    return REAL_DATA
