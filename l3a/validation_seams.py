"""Swath-edge seams of a synthesis, in reflectance units, against the truth's own step across the same edges.

Each relative orbit whose footprint ends inside the tile draws a *swath edge*: between columns ``c - 1`` and ``c``
of a row where the orbit's footprint (the truth's class != 0 in any of its used dates) changes. An orbit can have an
``east`` edge (its swath lies west of it) and a ``west`` one. At each row crossing an edge, with ``n = max(1,
round(strip_m / pixel))`` pixels on each side next to the edge (land pixels of the product, FLG 4, on the right side
of that orbit's footprint):

    step       = mean(FRC inside) - mean(FRC outside)                      (signed: inside the swath minus outside)
    truth_step = the same on the monthly truth, same pixels
    d          = step - truth_step = mean(error inside) - mean(error outside),   error = FRC - truth

The edge's **seam** is the mean of ``d`` over its rows: the offset the synthesis puts between the two sides beyond
the landscape's own step. Its **standard error** comes from batch means (rows grouped in runs of ``round(batch_m /
pixel)`` consecutive rows, about the scale of the cloud weights), because the errors of neighbouring rows are
correlated and the plain ``std / sqrt(rows)`` would be too small. A seam of 0.01 is a visible line; the target is
``|seam| <= 0.003`` in every band.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np

from l2a.constants import REFLECTANCE_NODATA

from .flags import FLG_LAND

__all__ = ["swath_edges", "edge_seams"]


def swath_edges(footprints: Mapping[int, np.ndarray], flg: np.ndarray, pixel: float, strip_m: float) -> list[dict]:
    """The swath edges crossing a tile and, per crossing row, the pixels compared on either side.

    Parameters
    ----------
    footprints : mapping int -> numpy.ndarray
        Relative orbit -> bool (rows, cols), True inside that orbit's swath.
    flg : numpy.ndarray
        uint8 (rows, cols), the product's FLG (only land, FLG 4, is compared).
    pixel : float
        Pixel size, m.
    strip_m : float
        Width of the strip compared on each side of the edge, m (at least one pixel).

    Returns
    -------
    list of dict
        Per edge: ``key`` (``"R051 east"``), ``orbit``, ``side``, ``rows`` int64 (k,) of the crossing rows used,
        ``inside`` and ``outside`` intp (k, n) columns and bool (k, n) ``inside_ok`` / ``outside_ok`` masks of the
        compared pixels (at least one on each side per row).
    """
    cols = flg.shape[1]
    land = flg == FLG_LAND
    n = max(1, int(round(strip_m / pixel)))
    offsets = np.arange(n)
    edges = []
    for orbit in sorted(footprints):
        fp = footprints[orbit]
        if fp.all() or not fp.any():
            continue
        r, c = np.nonzero(fp[:, 1:] != fp[:, :-1])
        c = c + 1  # the edge lies between columns c - 1 and c
        swath_west = fp[r, c - 1]
        for side, sel in (("east", swath_west), ("west", ~swath_west)):
            rr, cc = r[sel], c[sel]
            if rr.size == 0:
                continue
            if side == "east":  # the swath is on the left
                inside, outside = cc[:, None] - 1 - offsets, cc[:, None] + offsets
            else:
                inside, outside = cc[:, None] + offsets, cc[:, None] - 1 - offsets
            in_ok = (inside >= 0) & (inside < cols)
            out_ok = (outside >= 0) & (outside < cols)
            inside, outside = np.clip(inside, 0, cols - 1), np.clip(outside, 0, cols - 1)
            rk = rr[:, None]
            in_ok &= fp[rk, inside] & land[rk, inside]
            out_ok &= ~fp[rk, outside] & land[rk, outside]
            keep = in_ok.any(axis=1) & out_ok.any(axis=1)
            if keep.any():
                edges.append({"key": f"R{orbit:03d} {side}", "orbit": int(orbit), "side": side, "rows": rr[keep],
                              "inside": inside[keep], "outside": outside[keep], "inside_ok": in_ok[keep],
                              "outside_ok": out_ok[keep]})
    return edges


def _side_mean(image: np.ndarray, rows: np.ndarray, cols: np.ndarray, ok: np.ndarray) -> np.ndarray:
    values = np.where(ok, image[rows[:, None], cols], 0.0)
    return values.sum(axis=1) / np.maximum(ok.sum(axis=1), 1)


def _batch_standard_error(d: np.ndarray, batch: int) -> float | None:
    """Standard error of the mean of ``d`` (rows in order) from the means of consecutive batches of ``batch`` rows;
    None with fewer than two whole batches."""
    n_batches = d.size // batch
    if n_batches < 2:
        return None
    means = d[:n_batches * batch].reshape(n_batches, batch).mean(axis=1)
    return float(means.std(ddof=1) / np.sqrt(n_batches))


def edge_seams(edges: Sequence[dict], bands: Sequence[str], read_frc: Callable[[str], np.ndarray],
               read_truth: Callable[[str], np.ndarray], pixel: float, batch_m: float) -> dict:
    """Seam of each edge in each band (see the module docstring).

    Parameters
    ----------
    edges : sequence of dict
        From :func:`swath_edges`.
    bands : sequence of str
    read_frc, read_truth : callable
        Band name -> int16 (rows, cols) FRC of the product / true monthly reflectance, x 10000.
    pixel : float
        Pixel size, m.
    batch_m : float
        Length along the edge of the batches of the standard error, m.

    Returns
    -------
    dict
        Edge key -> ``orbit``, ``side``, ``rows`` (crossing rows compared), ``bands`` -> band -> ``seam``, ``se``
        (None with fewer than two batches), ``step``, ``truth_step``, reflectance units (rounded to 1e-6).
    """
    out = {e["key"]: {"orbit": e["orbit"], "side": e["side"], "rows": int(e["rows"].size), "bands": {}}
           for e in edges}
    if not edges:
        return out
    batch = max(1, int(round(batch_m / pixel)))
    for b in bands:
        frc = read_frc(b).astype(np.float64)
        truth = read_truth(b).astype(np.float64)
        valid = frc != REFLECTANCE_NODATA
        for e in edges:
            rows = e["rows"]
            in_ok = e["inside_ok"] & valid[rows[:, None], e["inside"]]
            out_ok = e["outside_ok"] & valid[rows[:, None], e["outside"]]
            keep = in_ok.any(axis=1) & out_ok.any(axis=1)
            if not keep.any():
                continue
            r, inside, outside, in_ok, out_ok = rows[keep], e["inside"][keep], e["outside"][keep], in_ok[keep], \
                out_ok[keep]
            step = _side_mean(frc, r, inside, in_ok) - _side_mean(frc, r, outside, out_ok)
            truth_step = _side_mean(truth, r, inside, in_ok) - _side_mean(truth, r, outside, out_ok)
            d = (step - truth_step) * 1e-4
            se = _batch_standard_error(d, batch)
            out[e["key"]]["bands"][b] = {"seam": round(float(d.mean()), 6),
                                         "se": None if se is None else round(se, 6),
                                         "step": round(float(step.mean()) * 1e-4, 6),
                                         "truth_step": round(float(truth_step.mean()) * 1e-4, 6)}
    return out
