"""The demo's cluster: its municipalities (official keys), their gauges and traffic counters.

Keys: Kreisschlüssel / AGS of the districts and the city, and the Regionalschlüssel of the Verbandsgemeinde
Linz am Rhein (Landkreis Neuwied 07138, Verband 5004; a Verbandsgemeinde has no AGS of its own).
Outlines are simplified shapes around each municipality's centre with its official area; station places
are real river towns, but thresholds, levels and traffic volumes are illustrative, not official figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Place:
    tenant: str
    name: str
    kind: str
    ags: str
    regionalschluessel: str
    centre: tuple[float, float]  # lon, lat
    area_km2: float
    url: str


@dataclass(frozen=True)
class Gauge:
    tenant: str
    device: str
    name: str
    river: str
    where: tuple[float, float]
    base: float  # m, normal level
    peak: float  # m, crest of the demo's flood wave
    alert: float
    danger: float
    rise_starts: float  # hours relative to the demo's start (negative: already rising)
    hours_to_peak: float
    transport: str  # json | lorawan | flood (FloodMonitoring: distance below a reference level)


@dataclass(frozen=True)
class Counter:
    tenant: str
    site: str
    name: str
    where: tuple[float, float]
    peak_per_hour: int  # vehicles per hour in one lane at the rush hour
    dev_eui: str  # LoRaWAN DevEUI of the lane's radar; the lane number is added to its last digit


PLACES = (
    Place("kaiserslautern", "Stadt Kaiserslautern", "Kreisfreie Stadt", "07312000", "073120000000",
          (7.769, 49.444), 139.7, "https://www.kaiserslautern.de"),
    Place("linz-am-rhein", "Verbandsgemeinde Linz am Rhein", "Verbandsgemeinde", "", "071385004000",
          (7.285, 50.571), 64.7, "https://www.vg-linz.de"),
    Place("kusel", "Landkreis Kusel", "Landkreis", "07336000", "073360000000",
          (7.47, 49.55), 573.3, "https://www.landkreis-kusel.de"),
    Place("mayen-koblenz", "Landkreis Mayen-Koblenz", "Landkreis", "07137000", "071370000000",
          (7.36, 50.36), 817.2, "https://www.kvmyk.de"),
    Place("bitburg-pruem", "Eifelkreis Bitburg-Prüm", "Landkreis", "07232000", "072320000000",
          (6.45, 50.07), 1626.0, "https://www.bitburg-pruem.de"),
    Place("st-wendel", "Landkreis St. Wendel", "Landkreis", "10046000", "100460000000",
          (7.08, 49.50), 476.1, "https://www.landkreis-st-wendel.de"),
)  # fmt: skip

GAUGES = (
    Gauge("kaiserslautern", "pegel-lauter-kl", "Pegel Kaiserslautern", "Lauter", (7.752, 49.447),
          0.45, 1.45, 1.20, 1.60, -5.0, 6.0, "json"),
    Gauge("kusel", "pegel-glan-altenglan", "Pegel Altenglan", "Glan", (7.463, 49.548),
          0.90, 2.90, 2.60, 3.40, -4.0, 8.0, "json"),
    Gauge("linz-am-rhein", "pegel-rhein-linz", "Pegel Linz", "Rhein", (7.281, 50.569),
          3.20, 7.00, 6.50, 8.00, -3.0, 20.0, "flood"),
    Gauge("mayen-koblenz", "pegel-rhein-andernach", "Pegel Andernach", "Rhein", (7.405, 50.441),
          3.40, 7.30, 6.80, 8.20, -3.5, 21.0, "json"),
    Gauge("bitburg-pruem", "pegel-pruem-pruemzurlay", "Pegel Prümzurlay", "Prüm", (6.465, 49.905),
          0.70, 2.50, 2.20, 2.90, -5.5, 6.0, "lorawan"),
    Gauge("st-wendel", "pegel-blies-wnd", "Pegel St. Wendel", "Blies", (7.166, 49.466),
          0.50, 2.15, 1.50, 2.00, -5.5, 6.0, "json"),
)  # fmt: skip

COUNTERS = (
    Counter("kaiserslautern", "kl-pariser-strasse", "Zählstelle Pariser Straße", (7.744, 49.445), 820,
            "70B3D5E75E000110"),
    Counter("linz-am-rhein", "linz-b42", "Zählstelle B 42 Linz", (7.287, 50.566), 650, "70B3D5E75E000120"),
    Counter("mayen-koblenz", "myk-b9-andernach", "Zählstelle B 9 Andernach", (7.398, 50.432), 1100,
            "70B3D5E75E000130"),
    Counter("st-wendel", "wnd-bahnhofstrasse", "Zählstelle Bahnhofstraße", (7.169, 49.468), 380,
            "70B3D5E75E000140"),
)  # fmt: skip
LANES = ((1, "forward"), (2, "backward"))


def outline(place: Place, corners: int = 14) -> dict:
    """A simplified outline: an irregular polygon of the municipality's area around its centre."""
    lon0, lat0 = place.centre
    radius_km = math.sqrt(place.area_km2 / math.pi)
    ring = []
    for i in range(corners):
        angle = 2 * math.pi * i / corners
        wobble = 1 + 0.18 * math.sin(3 * angle + len(place.tenant)) + 0.08 * math.cos(5 * angle)
        dlat = radius_km * wobble * math.sin(angle) / 111.2
        dlon = radius_km * wobble * math.cos(angle) / (111.2 * math.cos(math.radians(lat0)))
        ring.append([round(lon0 + dlon, 5), round(lat0 + dlat, 5)])
    ring.append(ring[0])
    return {"type": "Polygon", "coordinates": [ring]}


def record(place: Place) -> dict:
    """The municipality record the registry takes (shared contract 1)."""
    body = {
        "tenant": place.tenant,
        "name": place.name,
        "kind": place.kind,
        "regionalschluessel": place.regionalschluessel,
        "area": outline(place),
        "contactPoint": {"name": place.name, "url": place.url},
        "licence": "dl-by-de/2.0",
        "licenceAttribution": place.name,
        "openData": True,
        "sdmPolicy": "warn",
        "regions": ["suedwest"],
    }
    if place.ags:
        body["ags"] = place.ags
    return body
