"""ESA SAFE products: Sen2Cor L2A (read) and Level-1C (read, and written by the simulator).

Modules: :mod:`.common` (members of a SAFE folder or zip, product names, MTD_MSIL*.xml and MTD_TL.xml parsing,
band grids), :mod:`.sen2cor` (:class:`Sen2CorL2A`), :mod:`.l1c` (:class:`L1CProduct`), :mod:`.writer`
(:class:`L1CSafeWriter`).
"""
