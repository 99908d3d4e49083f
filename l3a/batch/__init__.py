"""``l3a batch``: many (tile, month) syntheses on dask.distributed (SPEC section 7).

Modules, one job each: :mod:`.params` (:class:`BatchParams` and the memory rule), :mod:`.discover` (the products
under the input folders), :mod:`.area` (tiles of a GeoJSON area of interest), :mod:`.plan` (one task per tile and
month), :mod:`.memory` (peak RSS of a task), :mod:`.task` (the function a worker runs), :mod:`.cluster` (LocalCluster
or a running scheduler), :mod:`.report` (the JSON run report), :mod:`.run` (all of it: :func:`run_batch`).

>>> from l3a.batch import BatchParams, run_batch                               # doctest: +SKIP
>>> report = run_batch(["sim"], "l3a", ["2018-07", "2018-08"], tiles=["T31TCJ"], batch=BatchParams(workers=2))

dask.distributed is imported only when a cluster is made (``pip install 'syntheo[dask]'``).
"""

from .params import BatchParams
from .report import exit_code
from .run import BatchInterrupted, run_batch

__all__ = ["BatchParams", "BatchInterrupted", "run_batch", "exit_code"]
