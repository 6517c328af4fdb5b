"""The physics reference of ``bench_phantom_physics.py``: a focused phased-array scan simulated with pymust.

pymust (PyPI, the Python port of MUST by D. Garcia) computes the RF signals of every element of a
phased array with SIMUS (a frequency-domain, far-field/Fresnel pressure-field model), which we demodulate
(``rf2iq``) and beamform by delay-and-sum (``dasmtx``). It is an optional dependency (extra ``physics``)
used only by this benchmark and its opt-in test; the package never imports it.

Scan: the Verasonics P4-2v (64 elements, 0.3 mm pitch → 19.2 mm aperture, 2.72 MHz, 74 % pulse-echo
bandwidth), one focused transmit per pair of receive lines (2-MLA, as cardiac scanners do), transmit focus
at a fixed depth, dynamic receive focusing with the full aperture (no apodisation), no attenuation. 2-D
simulation (no elevation). Coordinates as in the phantom's probe frame: ``x`` lateral, ``z`` depth (mm),
beam angle ``θ = atan2(x, z)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

PROBE = "P4-2v"
#: Transmit focus (mm) of every line: mid-depth of an apical view.
TX_FOCUS_MM = 70.0
#: Receive lines beamformed per transmit (multi-line acquisition), ± half a line spacing off the axis.
MLA = 2
#: Scatterers per SIMUS call: its cost grows faster than linearly beyond ≈ 5000 (memory), and RF is linear
#: in the reflection coefficients, so larger media are simulated in chunks and summed.
CHUNK = 2500


def probe():
    """pymust parameters of the P4-2v phased array (``fc`` Hz, ``pitch`` m, ``Nelements``...)."""
    import pymust

    return pymust.getparam(PROBE)


def wavelength_mm(param) -> float:
    """Wavelength (mm) at the centre frequency, c = 1540 m/s."""
    return 1540.0e3 / float(param.fc)


def aperture_mm(param) -> float:
    """Active aperture (mm): number of elements × pitch."""
    return float(param.Nelements) * float(param.pitch) * 1e3


@dataclass(frozen=True)
class Scatterers:
    """Point scatterers in the imaging plane: positions (mm) and real reflection coefficients."""

    x_mm: np.ndarray
    z_mm: np.ndarray
    rc: np.ndarray


def scatterers_in_sector(
    rng: np.random.Generator,
    r_range_mm: tuple[float, float],
    th_range_rad: tuple[float, float],
    count: int,
    power: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> Scatterers:
    """``count`` scatterers uniform in (r, θ) over an annular sector, Gaussian reflection coefficients.

    Uniform in (r, θ) means a density ∝ 1/r per mm², i.e. a constant number per speckle cell (whose lateral
    size grows ∝ r). Gaussian coefficients make the received field Gaussian whatever the number of
    scatterers per resolution cell, so fewer scatterers give nearly developed speckle (a cheaper simulation).

    Args:
        r_range_mm, th_range_rad: the annular sector (mm from the probe, beam angles in rad).
        count: number of scatterers.
        power: optional ``f(r_mm, th_rad) -> mean backscatter power`` (default 1); where it is NaN the
            scatterer is dropped (outside the simulated region).
    """
    r = rng.uniform(*r_range_mm, count)
    th = rng.uniform(*th_range_rad, count)
    p = np.ones(count) if power is None else np.asarray(power(r, th), np.float64)
    keep = np.isfinite(p)
    r, th, p = r[keep], th[keep], p[keep]
    return Scatterers(
        r * np.sin(th), r * np.cos(th), np.sqrt(np.maximum(p, 0.0)) * rng.standard_normal(r.size)
    )


def focused_scan(
    scat: Scatterers, r_mm: np.ndarray, th_rad: np.ndarray, param, focus_mm: float = TX_FOCUS_MM
) -> np.ndarray:
    """Envelope ``(len(r_mm), len(th_rad))`` of a focused phased-array scan of ``scat`` (arbitrary units).

    Receive lines ``th_rad`` (equally spaced, ascending) are grouped by ``MLA``; each group shares one
    transmit focused at ``focus_mm`` on the group's mean angle. Cost: one SIMUS call per transmit,
    ∝ number of scatterers × depth.
    """
    import pymust

    opts = pymust.utils.Options()
    opts.dBThresh = -60.0  # frequency components below −60 dB of the spectrum are skipped
    opts.ParPool = False
    x, z = scat.x_mm * 1e-3, scat.z_mm * 1e-3
    env = np.zeros((r_mm.size, th_rad.size), np.float64)
    for g in range(0, th_rad.size, MLA):
        lines = th_rad[g : g + MLA]
        tx = float(lines.mean())
        f = focus_mm * 1e-3
        delays = pymust.txdelay(f * np.sin(tx), f * np.cos(tx), param)
        rf = _simus_chunked(x, z, scat.rc, delays, param, opts)
        iq = pymust.rf2iq(rf, param)
        rr, tt = np.meshgrid(r_mm * 1e-3, lines, indexing="ij")
        das = pymust.dasmtx(1j * np.array(iq.shape), rr * np.sin(tt), rr * np.cos(tt), delays, param)
        bf = (das @ iq.flatten(order="F")).reshape(rr.shape, order="F")
        env[:, g : g + MLA] = np.abs(bf)
    return env


def _simus_chunked(
    x: np.ndarray, z: np.ndarray, rc: np.ndarray, delays: np.ndarray, param, opts
) -> np.ndarray:
    """SIMUS RF ``(time, elements)`` of all scatterers, computed ``CHUNK`` scatterers at a time.

    Every chunk also holds, with zero coefficients, the scatterers farthest from the two end elements, so
    that all chunks share the frequency grid and the RF length (set by the largest element–scatterer
    distance).
    """
    import pymust

    half = (param.Nelements - 1) / 2 * param.pitch
    far = [int(np.argmax((x - e) ** 2 + z**2)) for e in (-half, half)]
    rf = None
    for s in range(0, x.size, CHUNK):
        sl = slice(s, s + CHUNK)
        xs, zs, rcs = np.append(x[sl], x[far]), np.append(z[sl], z[far]), np.append(rc[sl], [0.0, 0.0])
        part, _ = pymust.simus(xs, zs, rcs, delays, param, opts)
        rf = part if rf is None else rf + part
    return rf
