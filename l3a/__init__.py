"""syntheo Level-3A: WASP-style weighted monthly syntheses of L2A products.

Public API: :func:`compose` (one synthesis of one tile), :class:`CompositeParams` (its parameters, with
:meth:`CompositeParams.wasp` for the WASP 1.x profile), :func:`open_l3a` (read a product) and
:func:`validate_synthesis` (compare a synthesis of simulated products with the simulator's truth).

The public names are loaded on first use (module ``__getattr__``), so that importing a light module of the package
(:mod:`l3a.flags`, :mod:`l3a.dates`) does not load the synthesis (numba kernels, GDAL).
"""

import importlib
import sys
import types

from l2a._version import __version__

__all__ = ["__version__", "compose", "CompositeParams", "open_l3a", "validate_synthesis"]

#: Public name -> submodule defining it (``compose``: the :class:`_Package` property below).
_PUBLIC = {"CompositeParams": "params", "open_l3a": "product", "validate_synthesis": "validate"}


def __getattr__(name: str):
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later lookups find it directly
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """The package's module type. ``l3a.compose`` names both the function and the submodule defining it: the import
    system sets the package attribute to the submodule when it first loads it (``import l3a.compose``, wherever that
    happens), which would hide the function. This data descriptor keeps ``l3a.compose`` the function, loaded on first
    use; any other assignment (a test's monkeypatch) is kept."""

    @property
    def compose(self):
        value = self.__dict__.get("_compose")
        if value is None:
            value = getattr(importlib.import_module(f"{self.__name__}.compose"), "compose")
        return value

    @compose.setter
    def compose(self, value):
        if value is not sys.modules.get(f"{self.__name__}.compose"):
            self.__dict__["_compose"] = value


sys.modules[__name__].__class__ = _Package
