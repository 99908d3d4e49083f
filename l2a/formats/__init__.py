"""Product formats read and written by the toolkit, one subpackage per family.

- :mod:`l2a.formats.theia`: Theia/MUSCATE (MAJA) L2A products: file names, MTD_ALL.xml, mask bits, the reader and
  the writer of the toolkit's own L2A products (which are Theia products).
- :mod:`l2a.formats.safe`: ESA SAFE products: the parts common to every level (members, names, MTD XML), the
  Sen2Cor L2A reader, the L1C reader and the L1C writer (used by the simulator).

Readers are reached through :func:`l2a.open_l2a` and :func:`l2a.open_l1c`, which detect the format
(:mod:`l2a.detect`). Formats depend on the product model (:mod:`l2a.product`, :mod:`l2a.grid`) and on the file
helpers of :mod:`l2a.io`, never the other way round.
"""
