"""The vocabularies the catalog speaks: namespaces, what each entity type is about (titles in German and
English, keywords, EU data themes), DCAT-AP.de political geocoding from AGS / Regionalschlüssel, and licences.

URI patterns are the published ones of DCAT-AP.de (http://dcat-ap.de/def/...) and of the EU Publications
Office authority tables (http://publications.europa.eu/resource/authority/...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rdflib import Namespace, URIRef
from rdflib.namespace import DCAT, FOAF
from rdflib.namespace import DCTERMS as DCT
from rdflib.namespace import GEO as GSP

# rdflib's own DCAT, DCTERMS, FOAF and GeoSPARQL namespaces know their terms (a plain Namespace would answer
# DCT.title with str.title); the others below use no term that is also a str method.
__all__ = ["DCAT", "DCT", "FOAF", "GSP"]
DCATDE = Namespace("http://dcat-ap.de/def/dcatde/")
DCATAP = Namespace("http://data.europa.eu/r5r/")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
LOCN = Namespace("http://www.w3.org/ns/locn#")
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
ADMS = Namespace("http://www.w3.org/ns/adms#")

EU = "http://publications.europa.eu/resource/authority/"
THEME = Namespace(EU + "data-theme/")
FILE_TYPE = Namespace(EU + "file-type/")
LANGUAGE = Namespace(EU + "language/")
FREQUENCY = Namespace(EU + "frequency/")
ACCESS_RIGHT = Namespace(EU + "access-right/")
AVAILABILITY = Namespace(EU + "planned-availability/")
IANA = "https://www.iana.org/assignments/media-types/"
THEME_SCHEME = URIRef(EU + "data-theme")

LICENCES = "http://dcat-ap.de/def/licenses/"
GEOCODING = "http://dcat-ap.de/def/politicalGeocoding/"

# Names of the EU data themes, for the portal's filter.
THEME_LABELS: dict[str, tuple[str, str]] = {
    "ENVI": ("Umwelt", "Environment"),
    "TRAN": ("Verkehr", "Transport"),
    "ENER": ("Energie", "Energy"),
    "GOVE": ("Regierung und öffentlicher Sektor", "Government and public sector"),
    "TECH": ("Wissenschaft und Technologie", "Science and technology"),
    "HEAL": ("Gesundheit", "Health"),
    "REGI": ("Regionen und Städte", "Regions and cities"),
}


@dataclass(frozen=True)
class TypeInfo:
    """What a dataset of one entity type is about."""

    title_de: str
    title_en: str
    about_de: str  # completes "Aktuelle und historische ... von <Kommune>"
    about_en: str  # completes "Current and historical ... of <municipality>"
    keywords_de: tuple[str, ...]
    keywords_en: tuple[str, ...]
    themes: tuple[str, ...]  # EU data-theme codes


TYPES: dict[str, TypeInfo] = {
    "WaterObserved": TypeInfo(
        "Pegelstände", "Water levels",
        "Wasserstände und Abflüsse an den Pegelmessstellen", "water levels and flows at the gauging stations",
        ("Pegel", "Wasserstand", "Hochwasser", "Gewässer"), ("water level", "gauge", "flood", "river"),
        ("ENVI",),
    ),
    "FloodMonitoring": TypeInfo(
        "Hochwasserüberwachung", "Flood monitoring",
        "Messwerte der Hochwasserüberwachung", "flood monitoring measurements",
        ("Hochwasser", "Pegel", "Warnung"), ("flood", "gauge", "warning"),
        ("ENVI",),
    ),
    "TrafficFlowObserved": TypeInfo(
        "Verkehrsfluss", "Traffic flow",
        "Verkehrsstärken und Geschwindigkeiten an den Zählstellen",
        "traffic intensities and speeds at the counting points",
        ("Verkehr", "Verkehrszählung", "Mobilität"), ("traffic", "traffic count", "mobility"),
        ("TRAN",),
    ),
    "ItemFlowObserved": TypeInfo(
        "Zählungen von Personen und Fahrzeugen", "People and vehicle counts",
        "Zählungen vorbeikommender Personen, Räder und Fahrzeuge",
        "counts of passing people, bikes and vehicles",
        ("Zählung", "Radverkehr", "Fußverkehr"), ("count", "cycling", "pedestrians"),
        ("TRAN",),
    ),
    "Alert": TypeInfo(
        "Warnmeldungen", "Alerts",
        "Warnmeldungen und Hinweise", "alerts and notices",
        ("Warnung", "Meldung"), ("alert", "notice"),
        ("GOVE",),
    ),
    "Device": TypeInfo(
        "Messgeräte", "Sensors and devices",
        "Angaben zu den eingesetzten Messgeräten", "details of the sensors and devices in use",
        ("Sensor", "Messgerät", "IoT"), ("sensor", "device", "IoT"),
        ("TECH",),
    ),
    "WeatherObserved": TypeInfo(
        "Wetterbeobachtungen", "Weather observations",
        "Wettermesswerte der Wetterstationen", "measurements of the weather stations",
        ("Wetter", "Temperatur", "Niederschlag"), ("weather", "temperature", "precipitation"),
        ("ENVI",),
    ),
    "AirQualityObserved": TypeInfo(
        "Luftqualität", "Air quality",
        "Messwerte der Luftqualität", "air quality measurements",
        ("Luftqualität", "Feinstaub", "Stickstoffdioxid"), ("air quality", "particulate matter", "NO2"),
        ("ENVI", "HEAL"),
    ),
    "NoiseLevelObserved": TypeInfo(
        "Lärmpegel", "Noise levels",
        "gemessene Lärmpegel", "measured noise levels",
        ("Lärm", "Schall"), ("noise", "sound level"),
        ("ENVI", "HEAL"),
    ),
    "OffStreetParking": TypeInfo(
        "Parkhäuser und Parkplätze", "Car parks",
        "Belegung der Parkhäuser und Parkplätze", "occupancy of car parks",
        ("Parken", "Parkhaus", "Belegung"), ("parking", "car park", "occupancy"),
        ("TRAN",),
    ),
    "ParkingSpot": TypeInfo(
        "Stellplätze", "Parking spaces",
        "Belegung einzelner Stellplätze", "occupancy of single parking spaces",
        ("Parken", "Stellplatz", "Belegung"), ("parking", "parking space", "occupancy"),
        ("TRAN",),
    ),
    "Streetlight": TypeInfo(
        "Straßenbeleuchtung", "Street lighting",
        "Zustand der Straßenbeleuchtung", "state of the street lights",
        ("Straßenbeleuchtung", "Laterne", "Energie"), ("street lighting", "street light", "energy"),
        ("ENER",),
    ),
}  # fmt: skip


def type_info(type_name: str) -> TypeInfo:
    """Known types get their own words; any other type a neutral description under the theme GOVE."""
    found = TYPES.get(type_name)
    if found is not None:
        return found
    return TypeInfo(
        type_name, type_name, f"Daten des Typs {type_name}", f"data of the type {type_name}",
        (type_name,), (type_name,), ("GOVE",),
    )  # fmt: skip


def dataset_slug(tenant: str, type_name: str) -> str:
    """The dataset id: `<tenant>-<type in kebab case>`, also a valid CKAN package name."""
    kebab = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", type_name.rsplit("/", 1)[-1].rsplit("#", 1)[-1])
    kebab = re.sub(r"[^a-z0-9_-]+", "-", kebab.lower()).strip("-")
    return f"{tenant}-{kebab}"[:100]


def licence_uri(licence_id: str) -> URIRef:
    """`dl-by-de/2.0` -> http://dcat-ap.de/def/licenses/dl-by-de/2.0 (a full URI is kept as it is)."""
    if licence_id.startswith(("http://", "https://")):
        return URIRef(licence_id)
    return URIRef(LICENCES + licence_id.strip("/"))


# Licences of the dcat-ap.de list that require naming the source (dcatde:licenseAttributionByText).
_ATTRIBUTION = re.compile(r"(^|/)(dl-by-de|cc-by|cc-by-sa|odc-by|odbl|geonutz|geoNutzV|dl-de-by|cc-by-de)")


def needs_attribution(licence_id: str) -> bool:
    return bool(_ATTRIBUTION.search(licence_id.removeprefix(LICENCES)))


# Kinds of municipality (contract 1) -> DCAT-AP.de level of political geocoding.
_LEVEL_OF_KIND = {
    "Stadt": "municipality",
    "Kreisfreie Stadt": "municipality",
    "Verbandsgemeinde": "municipality",
    "Verbandsfreie Gemeinde": "municipality",
    "Ortsgemeinde": "municipality",
    "Zweckverband": "municipality",
    "Landkreis": "administrativeDistrict",
}


def geocoding_level(kind: str) -> URIRef:
    return URIRef(f"{GEOCODING}Level/{_LEVEL_OF_KIND.get(kind, 'municipality')}")


def geocoding_uris(kind: str, ags: str | None, regionalschluessel: str | None) -> list[URIRef]:
    """The dcatde:politicalGeocodingURI values for a municipality record.

    A Landkreis is named by its district key (the first five digits), a Verbandsgemeinde by its municipal
    association key (the first nine digits of the Regionalschlüssel); towns and municipalities by their AGS
    and, when known, their Regionalschlüssel."""
    ags = ags if ags and re.fullmatch(r"\d{8}", ags) else None
    rs = regionalschluessel if regionalschluessel and re.fullmatch(r"\d{12}", regionalschluessel) else None
    if kind == "Landkreis":
        key = (ags or rs or "")[:5]
        return [URIRef(f"{GEOCODING}districtKey/{key}")] if key else []
    if kind == "Verbandsgemeinde" and rs:
        return [URIRef(f"{GEOCODING}municipalAssociationKey/{rs[:9]}")]
    uris = []
    if ags:
        uris.append(URIRef(f"{GEOCODING}municipalityKey/{ags}"))
    if rs:
        uris.append(URIRef(f"{GEOCODING}regionalKey/{rs}"))
    return uris
