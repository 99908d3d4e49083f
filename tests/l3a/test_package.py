"""The l3a package itself: its public names load on first use, so light modules import lightly."""

import subprocess
import sys


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-W", "error::ImportWarning", "-c", code], capture_output=True, text=True,
                          check=True)
    return done.stdout.strip()


def test_light_modules_import_lightly():
    out = _run("import sys, l3a.flags, l3a.dates\n"
               "print(sorted(m for m in sys.modules if m.startswith(('l3a', 'numba', 'scipy', 'shapely'))))")
    assert out == "['l3a', 'l3a.dates', 'l3a.flags']"


def test_public_names_load_on_first_use():
    out = _run("import l3a\n"
               "from l3a import CompositeParams, __version__, compose, open_l3a, validate_synthesis\n"
               "print(compose.__module__, CompositeParams.__module__, open_l3a.__module__,"
               " validate_synthesis.__module__, sorted(set(l3a.__all__) - set(dir(l3a))))")
    assert out == "l3a.compose l3a.params l3a.product l3a.validate []"


def test_compose_stays_the_function_whatever_is_imported_first():
    """``import l3a.compose`` (the module) binds the package attribute to the module when it first loads it; the
    package keeps ``l3a.compose`` the function, before and after, and an explicit assignment is kept."""
    out = _run("import l3a.compose, l3a\n"
               "from l3a import compose\n"
               "first = l3a.compose\n"
               "import l3a.compose\n"
               "l3a.compose = 'patched'\n"
               "patched = l3a.compose\n"
               "l3a.compose = first\n"
               "print(callable(compose), compose is first is l3a.compose, patched)")
    assert out == "True True patched"


def test_unknown_names_are_attribute_errors():
    out = _run("import l3a\n"
               "try:\n    l3a.nothing\nexcept AttributeError as exc:\n    print(exc)\n"
               "from l3a import weights\n"
               "print(weights.__name__)")
    assert out.splitlines() == ["module 'l3a' has no attribute 'nothing'", "l3a.weights"]
