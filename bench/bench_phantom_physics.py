"""The phantom's fast imaging model against a physics simulator (pymust / SIMUS) — SYNTHETIC.

Usage: ``OMP_NUM_THREADS=1 python bench/bench_phantom_physics.py [--quick] [--seed S] [--no-view]``
(needs the optional extra: ``pip install 'lunet[physics]'``, i.e. ``pymust``).

The same scatterer / echogenicity distribution is imaged twice, in the same run:
- by pymust: a focused P4-2v phased-array scan, SIMUS RF, I/Q demodulation, delay-and-sum (see
  ``_pymust_reference.py``);
- by the phantom's fast model (``lunet.data.synthetic.render.envelope_from_maps``: complex scatterers on the
  polar grid convolved with the separable Gaussian PSF), at the probe's wavelength, PSF blur factor 1.0
  (the sharpest Good image), on the polar grid of a native-size phantom view.
Measured on the envelope before log compression, both by the same estimators (``_speckle_metrics.py``):
(a) envelope statistics of a uniform region (Rayleigh: SNR 1.91); (b) axial and lateral speckle size (FWHM of
the envelope autocovariance) at several depths; (c) blood-vs-myocardium contrast, CNR and gCNR on the
echogenicity map of a 4CH ED phantom view, with the fast model's artefacts off (imaging only) and on.
Everything here is a phantom: no CAMUS data.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Sequence

import numpy as np

from _common import print_header, print_table
from _pymust_reference import (
    MLA,
    TX_FOCUS_MM,
    aperture_mm,
    focused_scan,
    probe,
    scatterers_in_sector,
    wavelength_mm,
)
from _speckle_metrics import (
    RAYLEIGH_SNR,
    contrast,
    depth_normalised,
    eroded,
    rayleigh_statistics,
    speckle_size_mm,
)
from lunet.data.labels import View
from lunet.data.synthetic.anatomy import sample_heart
from lunet.data.synthetic.appearance import sample_appearance, sample_fields
from lunet.data.synthetic.geometry import output_grid, place_view, polar_grid
from lunet.data.synthetic.render import APERTURE_MM, echogenicity, envelope_from_maps, prepare_view
from lunet.data.synthetic.slices import shape_masks, view_shape
from lunet.data.synthetic.tissue import non_compacted_layer

#: Depths (mm) of the uniform speckle patches; each patch spans ±PATCH_HALF_MM in depth, ±PATCH_HALF_RAD.
DEPTHS_MM = (30.0, 60.0, 90.0, 120.0)
PATCH_HALF_MM = 8.0
PATCH_HALF_RAD = 0.12
#: (c): pymust simulates the LV with its myocardium grown by this margin (mm).
MARGIN_MM = 10.0
#: Uniform-medium geometry of the fast model: a typical native view, 150 mm deep, 75° sector (polar grid
#: 512 × 208 at the usual 0.22–0.36 mm rows: dr ≈ 0.29 mm, dθ ≈ 0.0063 rad).
UNIFORM_DEPTH_MM = 150.0
UNIFORM_SECTOR_DEG = 75.0


@dataclasses.dataclass(frozen=True)
class FastView:
    """One phantom 4CH view set up like the generator does, at the probe's wavelength and PSF factor 1."""

    shape: object  # ViewShape at ED
    placement: object
    app: object
    fields: object
    beam: object  # BeamView with every artefact of the view
    e_map: np.ndarray  # echogenicity (nr, nth)
    z_map: np.ndarray


def fast_view(seed: int, wavelength: float, psf: float = 1.0, uniform_sector: bool = False) -> FastView:
    """Set up a Good-quality 4CH ED view of phantom heart ``seed`` (the generator's own functions).

    ``uniform_sector``: the view's depth and sector are replaced by ``UNIFORM_DEPTH_MM`` and
    ``UNIFORM_SECTOR_DEG`` (the uniform-medium runs need ≥ 130 mm and the same geometry for every seed).
    """
    rng = np.random.default_rng(seed)
    heart = sample_heart(rng)
    ed, es = view_shape(heart, View.A4C, heart.ed), view_shape(heart, View.A4C, heart.es)
    placement = place_view(rng, [ed, es], View.A4C, hard=False)
    if uniform_sector:
        sector = float(np.deg2rad(UNIFORM_SECTOR_DEG))
        placement = dataclasses.replace(placement, depth_mm=UNIFORM_DEPTH_MM, sector_rad=sector)
    grid = output_grid(rng, placement, "native")
    polar = polar_grid(grid)
    app = dataclasses.replace(sample_appearance(rng, "Good"), wavelength_mm=wavelength, psf=psf)
    beam_mm = placement.depth_mm / 2 * placement.sector_rad / polar.nth
    fields = sample_fields(rng, polar.nr, polar.nth, placement.depth_mm / polar.nr, beam_mm)
    beam = prepare_view(placement, polar, app, fields, (ed, es))
    e_map, z_map, _ = echogenicity(ed, beam, app, fields, True)
    return FastView(ed, placement, app, fields, beam, e_map, z_map)


def imaging_only(view: FastView) -> tuple[object, object]:
    """(beam, app) of ``view`` with every artefact off: unit gain, no clutter, noise or reverberation."""
    b = view.beam
    beam = dataclasses.replace(
        b, gain=np.ones_like(b.gain), clutter=np.zeros_like(b.clutter), noise2=np.zeros_like(b.noise2)
    )
    return beam, dataclasses.replace(view.app, reverberation=0.0)


def polar_axes(beam, nth: int) -> tuple[np.ndarray, np.ndarray]:
    """Depth (mm) and beam angle (rad) of the sample centres of a polar grid."""
    r = beam.r_mm[:, 0].astype(np.float64)
    th = (np.arange(nth) + 0.5) * beam.dth_rad - nth * beam.dth_rad / 2
    return r, th


def _patch(r: np.ndarray, th: np.ndarray, depth: float) -> tuple[slice, slice]:
    rs = np.flatnonzero(np.abs(r - depth) <= PATCH_HALF_MM)
    ts = np.flatnonzero(np.abs(th) <= PATCH_HALF_RAD)
    return slice(rs[0], rs[-1] + 1), slice(ts[0], ts[-1] + 1)


@dataclasses.dataclass(frozen=True)
class Patch:
    """Envelope ``(nr', nth')`` of a uniform region centred at ``depth_mm``, sampled every dr mm, dθ rad."""

    envelope: np.ndarray
    depth_mm: float
    dr_mm: float
    dth_rad: float

    def speckle_mm(self) -> tuple[float, float]:
        """(axial, lateral) speckle FWHM in mm."""
        return speckle_size_mm(self.envelope, self.dr_mm, self.dth_rad, self.depth_mm)


def uniform_fast(seeds: Sequence[int], wavelength: float, depths: tuple[float, ...]) -> list[Patch]:
    """Fast-model patches of a uniform medium (E = 1) at ``depths``, one realisation per seed."""
    out = []
    for seed in seeds:
        view = fast_view(seed, wavelength, uniform_sector=True)
        beam, app = imaging_only(view)
        e = np.ones_like(view.e_map)
        env = envelope_from_maps(e, np.zeros_like(e), beam, app, view.fields)
        r, th = polar_axes(beam, e.shape[1])
        out += [Patch(env[_patch(r, th, d)], d, beam.dr_mm, beam.dth_rad) for d in depths]
    return out


def uniform_pymust(
    param, seed: int, depths: tuple[float, ...], per_patch: int, dth: float, dr: float
) -> list[Patch]:
    """pymust patches of a uniform medium at ``depths``, sampled every ``dr`` mm and ``dth`` rad.

    ``per_patch`` scatterers per patch, uniform in (r, θ): a constant number per resolution cell
    (6000 ≈ 10 per cell of 0.45 mm × λ/D·r).
    """
    rng = np.random.default_rng(seed)
    out = []
    r_pad, th_pad = 3.0, 0.05  # scatterers beyond the measured patch: no edge effect inside it
    for d in depths:
        r_rng = (d - PATCH_HALF_MM - r_pad, d + PATCH_HALF_MM + r_pad)
        t_rng = (-PATCH_HALF_RAD - th_pad, PATCH_HALF_RAD + th_pad)
        scat = scatterers_in_sector(rng, r_rng, t_rng, per_patch)
        r = np.arange(d - PATCH_HALF_MM, d + PATCH_HALF_MM + 1e-9, dr)
        th = np.arange(-PATCH_HALF_RAD, PATCH_HALF_RAD + 1e-9, dth)
        out.append(Patch(focused_scan(scat, r, th, param), d, dr, dth))
    return out


def speckle_rows(fast: list[Patch], ref: list[Patch]) -> list[dict]:
    """Table rows of (a) envelope statistics and (b) speckle sizes: pymust vs the fast model's mean ± SD."""

    def pooled(patches: list[Patch]) -> tuple[float, float]:
        return rayleigh_statistics(np.concatenate([depth_normalised(p.envelope).ravel() for p in patches]))

    rows = [_row(f"envelope SNR (Rayleigh {RAYLEIGH_SNR:.2f})", pooled(ref)[0], pooled(fast)[0])]
    rows.append(_row("KS distance to Rayleigh", pooled(ref)[1], pooled(fast)[1]))
    for p in ref:
        sizes = np.array([f.speckle_mm() for f in fast if f.depth_mm == p.depth_mm])
        for k, name in enumerate(("axial", "lateral")):
            rows.append(
                _row(f"{name} speckle FWHM @{p.depth_mm:.0f} mm (mm)", p.speckle_mm()[k], sizes[:, k].mean())
            )
            rows[-1]["fast SD"] = sizes[:, k].std()
    return rows


def _row(name: str, ref: float, fast: float) -> dict:
    return {"quantity": name, "pymust": ref, "lunet fast model": fast, "ratio fast/pymust": fast / ref}


@dataclasses.dataclass(frozen=True)
class ViewMasks:
    """Where (c) simulates and measures, on the view's polar grid ``(nr, nth)``."""

    region: np.ndarray  # pymust's scatterers: LV + myocardium grown by MARGIN_MM
    rows: slice  # depth samples imaged by pymust (those holding measured samples)
    beams: np.ndarray  # beams imaged by pymust (every beam_step-th one across the measured samples)
    cavity: np.ndarray  # (rows, beams): LV cavity eroded by 2 mm, with its trabeculae and papillary muscles
    pool: np.ndarray  # (rows, beams): the part of the cavity ≥ 1 mm from any trabecula
    myo: np.ndarray  # (rows, beams): myocardium eroded by 1.5 mm


def view_masks(view: FastView, beam_step: int) -> ViewMasks:
    """Simulated region and measured masks of a 4CH view (from the generator's own shape functions)."""
    r = view.beam.r_mm[:, 0]
    dr, dth = view.beam.dr_mm, view.beam.dth_rad
    endo, epi, _ = shape_masks(view.beam.u, view.beam.w, view.shape)
    beam_mm = float(np.median(r[np.any(epi, axis=1)])) * dth  # beam spacing at mid-heart depth
    region = ~eroded(~epi, MARGIN_MM, dr, beam_mm)
    cavity = eroded(endo, 2.0, dr, beam_mm)
    layer = non_compacted_layer(view.beam.u, view.beam.w, view.shape, view.app, view.fields.strands)
    pool = eroded(endo & (layer <= 0.02), 1.0, dr, beam_mm) & cavity
    myo = eroded(epi & ~endo, 1.5, dr, beam_mm)
    measured = cavity | myo
    rows, cols = np.flatnonzero(measured.any(axis=1)), np.flatnonzero(measured.any(axis=0))
    wr, beams = slice(rows[0], rows[-1] + 1), np.arange(cols[0], cols[-1] + 1, beam_step)
    return ViewMasks(region, wr, beams, *(m[wr][:, beams] for m in (cavity, pool, myo)))


def view_contrast(param, view: FastView, seed: int, per_sample: float, beam_step: int) -> list[dict]:
    """(c) Contrast of LV blood vs myocardium on the view's echogenicity map: pymust vs the fast model.

    pymust (kept to minutes): scatterers only in the LV and its myocardium grown by ``MARGIN_MM``,
    ``per_sample`` per polar sample of that region, with variance E at their place; it images every
    ``beam_step``-th beam across the measured samples. The fast model images its whole map and is measured
    on the same samples, with its artefacts off (imaging only) and on (the generator's output envelope).
    """
    masks = view_masks(view, beam_step)
    nr, nth = view.e_map.shape
    r, th = polar_axes(view.beam, nth)
    dr, dth = view.beam.dr_mm, view.beam.dth_rad

    def power(rr: np.ndarray, tt: np.ndarray) -> np.ndarray:
        i = np.clip(np.floor(rr / dr).astype(int), 0, nr - 1)
        j = np.clip(np.floor((tt + nth * dth / 2) / dth).astype(int), 0, nth - 1)
        return np.where(masks.region[i, j], view.e_map[i, j], np.nan)

    ri, ti = np.flatnonzero(masks.region.any(axis=1)), np.flatnonzero(masks.region.any(axis=0))
    r_rng, t_rng = (r[ri[0]] - dr / 2, r[ri[-1]] + dr / 2), (th[ti[0]] - dth / 2, th[ti[-1]] + dth / 2)
    count = int(per_sample * (ri[-1] - ri[0] + 1) * (ti[-1] - ti[0] + 1))  # polar samples of the box
    scat = scatterers_in_sector(np.random.default_rng(seed), r_rng, t_rng, count, power)
    t0 = time.perf_counter()
    ref = focused_scan(scat, r[masks.rows], th[masks.beams], param)
    sim_s = time.perf_counter() - t0
    beam0, app0 = imaging_only(view)
    fast = envelope_from_maps(view.e_map, np.zeros_like(view.z_map), beam0, app0, view.fields)
    full = envelope_from_maps(view.e_map, view.z_map, view.beam, view.app, view.fields)
    images = {"ref": ref, "fast": fast[masks.rows][:, masks.beams], "full": full[masks.rows][:, masks.beams]}
    e, myo = view.e_map[masks.rows][:, masks.beams], masks.myo
    rows = []
    labels = {"contrast_db": "contrast (dB)", "cnr": "CNR (envelope)", "gcnr": "gCNR"}
    for name, cavity in (("LV cavity", masks.cavity), ("blood pool", masks.pool)):
        intrinsic = float(10 * np.log10(e[myo].mean() / e[cavity].mean()))
        rows.append({"quantity": f"myo/{name}: contrast of the map (dB)", "pymust": intrinsic})
        rows[-1]["lunet fast model"] = intrinsic
        c = {k: contrast(img, myo, cavity) for k, img in images.items()}
        for key, label in labels.items():
            rows.append(_row(f"myo/{name}: {label}", c["ref"][key], c["fast"][key]))
            rows.append(
                {"quantity": "  same, fast model with its artefacts", "lunet fast model": c["full"][key]}
            )
    rows.append(
        _row(
            "envelope SNR in the myocardium",
            *(rayleigh_statistics(images[k][myo])[0] for k in ("ref", "fast")),
        )
    )
    print(
        f"(c) 4CH ED view, seed {seed}: depth {view.placement.depth_mm:.0f} mm, {ref.shape[0]} samples × "
        f"{ref.shape[1]} beams ({-(-ref.shape[1] // MLA)} transmits), {scat.rc.size} scatterers; samples: "
        f"{masks.cavity.sum()} LV cavity, {masks.pool.sum()} blood pool, {myo.sum()} myocardium; blood E "
        f"{view.app.blood:.1e}; pymust {sim_s:.0f} s"
    )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="2 depths, fewer scatterers, no view (≈1 min)")
    parser.add_argument("--no-view", action="store_true", help="skip (c), the 4CH view contrast")
    parser.add_argument("--per-patch", type=int, default=6000, help="pymust scatterers per uniform patch")
    parser.add_argument("--fast-draws", type=int, default=8, help="fast-model realisations (cheap) per depth")
    parser.add_argument(
        "--view-density", type=float, default=1.0, help="(c): pymust scatterers per polar sample"
    )
    parser.add_argument("--beam-step", type=int, default=2, help="(c): image every n-th beam of the view")
    parser.add_argument("--bandwidth", type=float, default=None, help="pymust pulse-echo bandwidth %% (74)")
    args = parser.parse_args(argv)
    try:
        param = probe()
        if args.bandwidth is not None:
            param.bandwidth = args.bandwidth
    except ImportError:
        print(
            "pymust is not installed: pip install 'lunet[physics]' (or pip install pymust)", file=sys.stderr
        )
        return 2
    print_header("Phantom imaging model vs a physics simulator (pymust) — SYNTHETIC phantom, not CAMUS")
    lam = wavelength_mm(param)
    print(
        f"probe {param.fc / 1e6:.2f} MHz, {param.bandwidth:.0f} % bandwidth, λ {lam:.3f} mm, aperture "
        f"{aperture_mm(param):.1f} mm (fast model APERTURE_MM {APERTURE_MM}), tx focus {TX_FOCUS_MM:.0f} mm, "
        f"{MLA}-MLA, full receive aperture, no attenuation"
    )
    depths = (60.0, 90.0) if args.quick else DEPTHS_MM
    per_patch = 3000 if args.quick else args.per_patch
    t0 = time.perf_counter()
    fast = uniform_fast(range(args.seed, args.seed + args.fast_draws), lam, depths)
    ref = uniform_pymust(param, args.seed, depths, per_patch, dth=0.004, dr=0.1)
    print(f"(a, b) uniform medium: {per_patch} scatterers per patch, pymust {time.perf_counter() - t0:.0f} s")
    columns = ["quantity", "pymust", "lunet fast model", "ratio fast/pymust", "fast SD"]
    print(f"fast model: mean (and SD) over {args.fast_draws} draws; pymust: one draw")
    print_table(speckle_rows(fast, ref), columns, digits=3)
    if not (args.quick or args.no_view):
        view = fast_view(args.seed, lam)
        rows = view_contrast(param, view, args.seed, args.view_density, args.beam_step)
        print_table(rows, columns, digits=3)
    print("SYNTHETIC: phantom and simulated media only, no CAMUS data.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
