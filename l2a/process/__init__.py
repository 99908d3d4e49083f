"""Home of the embedded Level-1C -> Level-2A processor (SPEC section 5), not written yet.

It will read L1C products through :func:`l2a.open_l1c`, correct them with a 6S look-up table (``atmosphere``),
estimate aerosols (``aot``), compute cloud, shadow, snow and water masks (``masks``) and write Theia-format products
with :class:`l2a.formats.theia.writer.TheiaL2AWriter`. MAJA's multi-temporal methods will keep a per-tile state
(the reference composite) beside the products. Nothing in this package is importable yet on purpose: see the
``l2a process`` issue.
"""
