"""How good the simulated L2A masks are: the errors a real processor makes, with seeded, tunable rates.

An L2A product's cloud, shadow, water and snow masks are a processor's *estimate*. If the simulator flagged every
truly cloudy pixel, every true shadow and the true water and snow classes, a synthesis judged against the truth
would never meet a missed cloud; it would be graded on an exam whose answers it was handed. :class:`MaskQuality`
sets which errors the simulated processor makes and how often:

* **missed thin clouds and cloud edges** -- a cloud is detected where the optical thickness the detector sees (the
  cloud field dilated by a few hundred metres when the processor dilates, as MAJA does; the field itself otherwise,
  as Sen2Cor) passes a threshold (1 for water clouds, 0.6 for cirrus, 0.25 for the cirrus bit). Where it does,
  the detection can still fail, in each error cell with probability
  ``cloud_omission * (1 - ln(tau / 0.05) / ln(omission_sure_tau / 0.05))`` where ``tau`` is the pixel's own
  (undilated) optical thickness, clipped to [0.05, omission_sure_tau] (``cirrus_omission`` for cirrus, with a
  quarter of ``omission_sure_tau``): omission is largest for thin clouds, the thin edges of thick ones and the
  dilation margin (which then shrinks, as around a cloud the processor missed), and vanishes for clouds of optical
  thickness ``omission_sure_tau`` and more;
* **shadows from a wrongly estimated cloud height** -- the detected shadow is the cloud projected along the sun
  direction from an estimated height: per layer and acquisition the height is off by a normal error of standard
  deviation ``shadow_height_error_m`` (plus a regional part of half that size), which offsets the detected shadow
  from the true one by ``dh tan(sun zenith)``; ``shadow_omission`` drops detected shadows cell by cell;
* **dark surfaces taken for shadow** -- clear pixels whose nadir mean reflectance of B2 B3 B4 B8 is below
  ``dark_reflectance`` (water, dark conifer stands) flagged shadow with probability ``dark_as_shadow`` per cell;
* **shadows taken for water** -- truly shadowed land flagged water, not shadow, with probability
  ``shadow_as_water`` per cell;
* **snow/cloud confusion** -- clear snow flagged cloud (``snow_as_cloud``), and detected clouds over snow flagged
  snow instead (``cloud_as_snow``);
* **random commission** -- clear pixels flagged cloud with probability ``commission`` per cell, plus
  ``bright_commission`` over towns, villages and bare rock (bright surfaces are the classic false clouds).

Errors are spatially coherent, as a processor working on 240 m cells (MAJA) or 60 m tests followed by morphology
makes them: each error draws one uniform number per ``cell_m`` square of the world frame (hashed from the seed, the
date, the relative orbit and the kind of error), so a cell is wrong as a whole, never salt-and-pepper; and every
probability is scaled by a regional factor ``1 + 0.8 n`` (``n`` value noise in [-1, 1] of scale ``region_m``) so
errors cluster in some parts of a scene. The same acquisition seen by two tiles has the same mask errors.

Presets (:data:`PRESETS`): ``perfect`` (no error at all: the masks of the earlier simulator, for unit tests),
``maja`` and ``sen2cor``. The defaults of the two processor presets were set so that the per-pixel overall accuracy
of the simulated cloud+shadow masks against the truth (cloud = the truth's thin or opaque cloud, or shadow; over
dates of a few tens of percent cloud) lands near the figures published for the operational processors: roughly
91 % for MAJA and 84-85 % for Sen2Cor (Baetens, Hagolle & Desjardins 2019, Remote Sensing 11(4):433, against
reference masks of 32 scenes). :func:`mask_accuracy` computes that figure from a run's truth and products.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from l2a.errors import InvalidParameterError

from .landscape import CLASS_LAND, CLASS_SNOW, CLASS_WATER, ROCK, URBAN, VILLAGE
from .noise import hash3_ref, hash_unit, value_noise

__all__ = ["MaskQuality", "PRESETS", "DEFAULT_MASK_QUALITY", "mask_quality", "quality_params", "detect",
           "mask_accuracy", "Q_PARAMS", "N_LAYER_ERRORS"]

#: Thresholds of the detection on the optical thickness the detector sees (water clouds, cirrus as cloud, cirrus
#: bit) and on the detected direct-sun transmittance (shadow).
DET_LIQ, DET_ICE, DET_CIRRUS, SHADOW_DET = 1.0, 0.6, 0.25, 0.6
N_LAYER_ERRORS = 3
#: Optical thickness below which a pixel counts as clear in the truth (thin clouds start there).
_TAU_THIN = 0.05
# parameter vector of the kernels
(Q_ACTIVE, Q_DILATE, Q_CLOUD_OMISSION, Q_SURE_TAU, Q_CIRRUS_OMISSION, Q_SHADOW_OMISSION, Q_DARK_AS_SHADOW,
 Q_DARK_REFL, Q_SHADOW_AS_WATER, Q_SNOW_AS_CLOUD, Q_CLOUD_AS_SNOW, Q_COMMISSION, Q_BRIGHT_COMMISSION, Q_CELL_M,
 Q_REGION_M, Q_SEED, Q_HEIGHT_ERROR_M, Q_DH) = range(18)
Q_PARAMS = Q_DH + N_LAYER_ERRORS
# kinds of error (hash salt)
_E_OMISSION, _E_CIRRUS, _E_SHADOW, _E_DARK, _E_WATER, _E_SNOW_CLOUD, _E_CLOUD_SNOW, _E_COMMISSION = range(1, 9)
_E_REGION = 20


@dataclass(frozen=True)
class MaskQuality:
    """Error rates of the simulated L2A masks (see the module doc for what each error does).

    Probabilities are per error cell (``cell_m`` square) and before the regional factor (mean 1).

    Attributes
    ----------
    name : str
        Preset name, recorded in the truth index and the products' metadata.
    dilate : bool
        Detect clouds on the cloud field dilated by a few hundred metres (MAJA), not on the field itself (Sen2Cor).
    cloud_omission : float
        Probability of missing a water cloud at the detection threshold, 0-1. Default 0.
    omission_sure_tau : float
        Water-cloud optical thickness from which no cloud is missed (> 0.05; a quarter of it for cirrus).
        Default 10.
    cirrus_omission : float
        The same for cirrus (relative to the cirrus-bit threshold 0.25), 0-1. Default 0.
    shadow_height_error_m : float
        Standard deviation of the error of the estimated cloud height, m, per layer and acquisition. Default 0.
    shadow_omission : float
        Probability of dropping a detected shadow, 0-1. Default 0.
    dark_as_shadow : float
        Probability of flagging a clear dark surface as shadow, 0-1. Default 0.
    dark_reflectance : float
        Mean nadir reflectance of B2 B3 B4 B8 under which a surface counts as dark (0-1). Default 0.08.
    shadow_as_water : float
        Probability of flagging truly shadowed land as water instead of shadow, 0-1. Default 0.
    snow_as_cloud : float
        Probability of flagging clear snow as cloud, 0-1. Default 0.
    cloud_as_snow : float
        Probability of flagging a detected cloud over snow as snow, 0-1. Default 0.
    commission : float
        Probability of flagging a clear pixel as cloud, 0-1. Default 0.
    bright_commission : float
        Extra probability over towns, villages and bare rock, 0-1. Default 0.
    cell_m : float
        Side of the error cells, m (MAJA works at 240 m). Default 240.
    region_m : float
        Scale of the regional modulation of the error rates, m. Default 5000.
    """

    name: str = "perfect"
    dilate: bool = True
    cloud_omission: float = 0.0
    omission_sure_tau: float = 10.0
    cirrus_omission: float = 0.0
    shadow_height_error_m: float = 0.0
    shadow_omission: float = 0.0
    dark_as_shadow: float = 0.0
    dark_reflectance: float = 0.08
    shadow_as_water: float = 0.0
    snow_as_cloud: float = 0.0
    cloud_as_snow: float = 0.0
    commission: float = 0.0
    bright_commission: float = 0.0
    cell_m: float = 240.0
    region_m: float = 5000.0

    def __post_init__(self):
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in ("name", "dilate"):
                continue
            if not math.isfinite(value) or value < 0:
                raise InvalidParameterError(f"mask quality {f.name} must be a finite number >= 0, not {value!r}")
            if f.type == "float" and f.name not in ("omission_sure_tau", "shadow_height_error_m",
                                                    "dark_reflectance", "cell_m", "region_m") and value > 1:
                raise InvalidParameterError(f"mask quality {f.name} is a probability (0-1), not {value!r}")
        if self.omission_sure_tau <= 4 * _TAU_THIN:
            raise InvalidParameterError(f"mask quality omission_sure_tau must be > {4 * _TAU_THIN}, not "
                                        f"{self.omission_sure_tau}")
        if self.cell_m <= 0 or self.region_m <= 0:
            raise InvalidParameterError("mask quality cell_m and region_m must be > 0")

    @property
    def perfect(self) -> bool:
        """No error of any kind (the masks follow the truth's clouds as the earlier simulator made them)."""
        return self.dilate and not any(
            getattr(self, f) for f in ("cloud_omission", "cirrus_omission", "shadow_height_error_m",
                                       "shadow_omission", "dark_as_shadow", "shadow_as_water", "snow_as_cloud",
                                       "cloud_as_snow", "commission", "bright_commission"))

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


#: The presets of ``l2a simulate --mask-quality``.
PRESETS = {
    "perfect": MaskQuality(),
    # MAJA: dilated clouds, multi-temporal tests, few thin-cloud misses, cloud heights from the shadow search
    "maja": MaskQuality(name="maja", dilate=True, cloud_omission=0.8, cirrus_omission=0.6,
                        shadow_height_error_m=1000.0, shadow_omission=0.05, dark_as_shadow=0.08,
                        shadow_as_water=0.03, snow_as_cloud=0.04, cloud_as_snow=0.1, commission=0.04,
                        bright_commission=0.03),
    # Sen2Cor: no dilation, mono-temporal thresholds, poor shadows, bright soils and towns taken for clouds
    "sen2cor": MaskQuality(name="sen2cor", dilate=False, cloud_omission=1.0, omission_sure_tau=20.0,
                           cirrus_omission=0.8, shadow_height_error_m=1500.0, shadow_omission=0.4,
                           dark_as_shadow=0.3, shadow_as_water=0.15, snow_as_cloud=0.12, cloud_as_snow=0.25,
                           commission=0.12, bright_commission=0.25),
}
DEFAULT_MASK_QUALITY = "maja"


def mask_quality(value) -> MaskQuality:
    """A :class:`MaskQuality` from itself or a preset name."""
    if isinstance(value, MaskQuality):
        return value
    try:
        return PRESETS[str(value).strip().lower()]
    except KeyError:
        raise InvalidParameterError(f"mask quality {value!r} is not one of {', '.join(PRESETS)}") from None


def quality_params(quality: MaskQuality, seed: int, day: dt.date, relative_orbit: int) -> np.ndarray:
    """Kernel parameter vector of the masks of one acquisition, float64 (Q_PARAMS,).

    The error cells and the cloud-height errors are drawn from the seed, the date and the relative orbit, so the
    same acquisition seen by several tiles has the same errors.
    """
    q = quality
    out = np.zeros(Q_PARAMS, np.float64)
    out[Q_ACTIVE] = 0.0 if q.perfect else 1.0
    out[Q_DILATE] = 1.0 if q.dilate else 0.0
    out[Q_CLOUD_OMISSION] = q.cloud_omission
    out[Q_SURE_TAU] = q.omission_sure_tau
    out[Q_CIRRUS_OMISSION] = q.cirrus_omission
    out[Q_SHADOW_OMISSION] = q.shadow_omission
    out[Q_DARK_AS_SHADOW] = q.dark_as_shadow
    out[Q_DARK_REFL] = q.dark_reflectance
    out[Q_SHADOW_AS_WATER] = q.shadow_as_water
    out[Q_SNOW_AS_CLOUD] = q.snow_as_cloud
    out[Q_CLOUD_AS_SNOW] = q.cloud_as_snow
    out[Q_COMMISSION] = q.commission
    out[Q_BRIGHT_COMMISSION] = q.bright_commission
    out[Q_CELL_M] = q.cell_m
    out[Q_REGION_M] = q.region_m
    key = day.toordinal() * 1000 + int(relative_orbit)
    out[Q_SEED] = float(int(hash3_ref(int(seed), key, 8101)) >> 14)
    out[Q_HEIGHT_ERROR_M] = q.shadow_height_error_m
    if q.shadow_height_error_m > 0:
        u = (np.array([int(hash3_ref(int(seed), key, 8200 + k)) for k in range(2 * N_LAYER_ERRORS)], np.float64)
             + 0.5) / 2.0 ** 64
        # Box-Muller: one normal number per layer
        g = np.sqrt(-2.0 * np.log(u[0::2])) * np.cos(2.0 * np.pi * u[1::2])
        out[Q_DH:Q_DH + N_LAYER_ERRORS] = q.shadow_height_error_m * g
    return out


@njit(cache=True, nogil=True)
def _miss(u, tau, rate, sure_tau):
    """True if the detection of a pixel of own optical thickness ``tau`` fails for a cell drawing ``u``."""
    t = min(max(tau, _TAU_THIN), sure_tau)
    return u < rate * (1.0 - math.log(t / _TAU_THIN) / math.log(sure_tau / _TAU_THIN))


@njit(cache=True, nogil=True)
def detect(x, y, surface_class, code, rho, liq_seen, ice_seen, tau_liq, tau_ice, t_dir, t_dir_det, q):
    """The simulated processor's masks at one pixel.

    Parameters
    ----------
    x, y : float
        World point, m (error cells are squares of this frame).
    surface_class, code : int
        True surface class and land cover code.
    rho : numpy.ndarray
        float64 (13,) nadir surface reflectance (the dark-surface test uses B2 B3 B4 B8).
    liq_seen, ice_seen : float
        Water-cloud and cirrus optical thickness the detector sees on the line of sight (dilated or not).
    tau_liq, tau_ice : float
        The pixel's own water-cloud and cirrus optical thickness on the line of sight (not dilated).
    t_dir : float
        True direct-sun transmittance (< 0.5: truly in shadow).
    t_dir_det : float
        Direct-sun transmittance of the detected clouds at their estimated height.
    q : numpy.ndarray
        float64 (Q_PARAMS,) :func:`quality_params`.

    Returns
    -------
    cloud, shadow, cirrus, water, snow : bool
        Detected planes (water and snow before the cloud mask hides them).
    """
    cirrus = ice_seen >= DET_CIRRUS
    cloud = liq_seen >= DET_LIQ or ice_seen >= DET_ICE
    water = surface_class == CLASS_WATER
    snow = surface_class == CLASS_SNOW
    if q[Q_ACTIVE] == 0.0:
        shadow = t_dir_det < SHADOW_DET and not cloud
        return cloud, shadow, cirrus, water, snow
    seed = np.int64(q[Q_SEED])
    cx = np.int64(math.floor(x / q[Q_CELL_M]))
    cy = np.int64(math.floor(y / q[Q_CELL_M]))
    region = 1.0 + 0.8 * value_noise(x / q[Q_REGION_M], y / q[Q_REGION_M], seed + _E_REGION)
    # omission: thin clouds and the thin edges of thick ones
    if liq_seen >= DET_LIQ and q[Q_CLOUD_OMISSION] > 0.0:
        if _miss(hash_unit(cx, cy, seed + _E_OMISSION), tau_liq, q[Q_CLOUD_OMISSION] * region, q[Q_SURE_TAU]):
            liq_seen = 0.0
    if cirrus and q[Q_CIRRUS_OMISSION] > 0.0:
        if _miss(hash_unit(cx, cy, seed + _E_CIRRUS), tau_ice, q[Q_CIRRUS_OMISSION] * region, 0.25 * q[Q_SURE_TAU]):
            ice_seen = 0.0
    cirrus = ice_seen >= DET_CIRRUS
    cloud = liq_seen >= DET_LIQ or ice_seen >= DET_ICE
    if snow and q[Q_CLOUD_AS_SNOW] > 0.0 and (cloud or cirrus):
        if hash_unit(cx, cy, seed + _E_CLOUD_SNOW) < q[Q_CLOUD_AS_SNOW] * region:
            cloud = False
            cirrus = False
    if not cloud and not cirrus:
        if snow:
            if hash_unit(cx, cy, seed + _E_SNOW_CLOUD) < q[Q_SNOW_AS_CLOUD] * region:
                cloud = True
        else:
            p = q[Q_COMMISSION]
            if code == URBAN or code == VILLAGE or code == ROCK:
                p += q[Q_BRIGHT_COMMISSION]
            if hash_unit(cx, cy, seed + _E_COMMISSION) < p * region:
                cloud = True
    shadow = False
    if not cloud:
        shadow = t_dir_det < SHADOW_DET
        if shadow and q[Q_SHADOW_OMISSION] > 0.0:
            if hash_unit(cx, cy, seed + _E_SHADOW) < q[Q_SHADOW_OMISSION] * region:
                shadow = False
        if not shadow and q[Q_DARK_AS_SHADOW] > 0.0:
            dark = 0.25 * (rho[1] + rho[2] + rho[3] + rho[7])
            if dark < q[Q_DARK_REFL] and hash_unit(cx, cy, seed + _E_DARK) < q[Q_DARK_AS_SHADOW] * region:
                shadow = True
        if t_dir < 0.5 and surface_class == CLASS_LAND and q[Q_SHADOW_AS_WATER] > 0.0:
            if hash_unit(cx, cy, seed + _E_WATER) < q[Q_SHADOW_AS_WATER] * region:
                shadow = False
                water = True
    return cloud, shadow, cirrus, water, snow


def mask_accuracy(truth_masks: np.ndarray, clm: np.ndarray) -> dict:
    """Per-pixel agreement of a product's cloud+shadow mask with the truth.

    Parameters
    ----------
    truth_masks : numpy.ndarray
        uint8 (4, rows, cols) acquisition MASKS truth (class, cloud, shadow, landcover).
    clm : numpy.ndarray
        uint8 (rows, cols) Theia CLM of the product (bit 0: any cloud or shadow).

    Returns
    -------
    dict
        Pixel counts: ``pixels`` (inside the swath), ``true_cloudy`` (truth cloud thin or opaque, or shadow),
        ``hits``, ``misses`` (truly cloudy, not flagged), ``false_alarms`` (clear, flagged), and
        ``overall_accuracy`` (0-1, None without pixels).
    """
    inside = truth_masks[0] > 0
    truth = (truth_masks[1] > 0) | (truth_masks[2] > 0)
    flagged = (clm & 1) != 0
    n = int(inside.sum())
    hits = int((truth & flagged & inside).sum())
    misses = int((truth & ~flagged & inside).sum())
    false_alarms = int((~truth & flagged & inside).sum())
    correct = n - misses - false_alarms
    return {"pixels": n, "true_cloudy": hits + misses, "hits": hits, "misses": misses, "false_alarms": false_alarms,
            "overall_accuracy": correct / n if n else None}
