"""The scene simulator behind ``l2a simulate``: realistic multi-tile, multi-date Sentinel-2 L2A (Theia format) or
L1C (SAFE) products of a procedural world, with their ground truth.

>>> from l2a.simulate import SimulationConfig, simulate                      # doctest: +SKIP
>>> simulate(SimulationConfig("out", start=date(2018, 6, 1), end=date(2018, 6, 30), size=366))

Modules: :mod:`.mgrs` (tile footprints), :mod:`.frame` (common world frame), :mod:`.noise` (hashed procedural
noise), :mod:`.landscape` (ground), :mod:`.clouds` (weather), :mod:`.atmosphere` (aerosols, water vapour, forward
model), :mod:`.surface_brdf` (the ground's directional reflectance per land cover), :mod:`.masks` (the simulated
processor's mask errors, :class:`~l2a.simulate.masks.MaskQuality`), :mod:`.orbits` (acquisition plan and angles),
:mod:`.kernels` (numba block kernels), :mod:`.metadata` (angle grids), :mod:`.truth` (ground-truth files and their
definitions), :mod:`.driver` (orchestration), :mod:`.cli` (the command).
Importing this package is cheap; the numerical modules load on first use.
"""

__all__ = ["SimulationConfig", "simulate", "DEFAULT_SIZE"]


def __getattr__(name):
    if name in __all__:
        from . import driver
        return getattr(driver, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
