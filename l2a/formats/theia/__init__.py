"""Theia/MUSCATE (MAJA) L2A format, also the format of the toolkit's own L2A products.

Modules: :mod:`.names` (file and product names), :mod:`.bits` (CLM/MG2/SAT/EDG bit layout and decoding),
:mod:`.mtd` (MTD_ALL.xml model and parser), :mod:`.mtd_xml` (MTD_ALL.xml writer), :mod:`.reader`
(:class:`TheiaL2A`), :mod:`.writer` (:class:`TheiaL2AWriter`).
"""
