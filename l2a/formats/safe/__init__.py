"""ESA SAFE products: Sen2Cor L2A (read) and Level-1C (read, and written by the simulator).

Modules: :mod:`.names` (band ids and spellings, product names), :mod:`.files` (the members of a SAFE folder or zip,
rasters checked at open), :mod:`.metadata` (``MTD_MSIL*.xml`` and ``MTD_TL.xml`` parsing), :mod:`.grids` (band grids
declared by the tile, crops), :mod:`.sen2cor` (:class:`Sen2CorL2A`), :mod:`.l1c` (:class:`L1CProduct`),
:mod:`.writer` (:class:`L1CSafeWriter`).
"""
