"""EXIF GPS coordinates: a photo that tells where its sender lives is a finding of its own kind."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pipeline.attachments.regions import RegionFinding

LOCATION_SCORE = 0.9

# EXIF GPS IFD tags (CIPA DC-008): 1 latitude ref, 2 latitude, 3 longitude ref, 4 longitude.
_LAT_REF, _LAT, _LON_REF, _LON = 1, 2, 3, 4


def gps_decimal(gps: Mapping[int, object]) -> tuple[float, float] | None:
    """Decimal (latitude, longitude) from an EXIF GPS IFD, or None when absent or malformed."""
    try:
        lat = _degrees(gps[_LAT]) * (-1 if str(gps.get(_LAT_REF, "N")).upper().startswith("S") else 1)
        lon = _degrees(gps[_LON]) * (-1 if str(gps.get(_LON_REF, "E")).upper().startswith("W") else 1)
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return None
    return round(lat, 6), round(lon, 6)


def _degrees(value: object) -> float:
    parts = list(value) if isinstance(value, Sequence) and not isinstance(value, str) else [value]
    if not 1 <= len(parts) <= 3:
        raise ValueError("GPS coordinate needs degrees, minutes, seconds")
    d, m, s = ([float(p) for p in parts] + [0.0, 0.0])[:3]
    if any(x != x or x < 0 for x in (d, m, s)):  # NaN or negative
        raise ValueError("bad GPS coordinate")
    return d + m / 60 + s / 3600


def location_finding(gps: Mapping[int, object] | None, page: int = 0) -> RegionFinding | None:
    """A ``location`` finding for a photo whose EXIF names where it was taken."""
    coordinates = gps_decimal(gps or {})
    if coordinates is None:
        return None
    lat, lon = coordinates
    return RegionFinding("location", f"{lat:.6f},{lon:.6f}", f"GPS {lat:.5f}, {lon:.5f}", LOCATION_SCORE, page, None, "exif")
