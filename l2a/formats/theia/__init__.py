"""Theia/MUSCATE (MAJA) L2A format, also the format of the toolkit's own L2A products.

Modules: :mod:`.names` (file and product names), :mod:`.bits` (CLM/MG2/SAT/EDG bit layout and decoding),
:mod:`.values` (AOT, water vapour and reflectance quantification), :mod:`.mtd` (MTD_ALL.xml model and parser),
:mod:`.mtd_xml` (MTD_ALL.xml writer), :mod:`.rasters` (the rasters as checked at open, the product's grids),
:mod:`.reader` (:class:`TheiaL2A`), :mod:`.raw` (raw Theia-coded planes block by block, the synthesis's fast path),
:mod:`.writer` (:class:`TheiaL2AWriter`).
"""
