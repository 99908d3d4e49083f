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


def _logger_state():
    import logging
    import warnings

    return ([(logging.getLogger(name), logging.getLogger(name).handlers[:], logging.getLogger(name).level,
              logging.getLogger(name).propagate) for name in ("l2a", "l3a", "mosaic")], warnings.showwarning)


_BASELINE = _logger_state()


@pytest.fixture(autouse=True)
def _toolkit_loggers_restored():
    """The CLIs set the toolkit's loggers up (level, own handler, no propagation: l2a.cli_options.setup_logging);
    a test (or a module fixture) that runs a command in-process must not leave them so, or later tests' caplog sees
    nothing: after each test they go back to their state when the tests were collected."""
    import warnings

    yield
    loggers, showwarning = _BASELINE
    for log, handlers, level, propagate in loggers:
        log.handlers[:] = handlers
        log.setLevel(level)
        log.propagate = propagate
    warnings.showwarning = showwarning
