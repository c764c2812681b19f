"""Hand-written entities for each built-in model, from the published specifications: one valid entity
(keyValues view) per model and, per model, invalid variants naming the attribute and rule they break."""

from __future__ import annotations

from typing import Any

KL = {"type": "Point", "coordinates": [7.7689, 49.4447]}  # Kaiserslautern
ADDRESS = {
    "streetAddress": "Lauterstraße 1",
    "addressLocality": "Kaiserslautern",
    "postalCode": "67657",
    "addressCountry": "DE",
}

VALID: dict[str, dict[str, Any]] = {
    "WaterObserved": {  # a river gauge: level in metres, flow in m³/s
        "id": "urn:ngsi-ld:WaterObserved:KL-Lauter-Pegel-1",
        "type": "WaterObserved",
        "name": "Pegel Lauter Kaiserslautern",
        "dateObserved": "2026-11-25T18:45:00Z",
        "location": KL,
        "height": 1.42,
        "flow": 3.8,
        "refDevice": "urn:ngsi-ld:Device:KL-Pegel-1-radar",
        "dataProvider": "Stadtentwässerung Kaiserslautern",
        "address": ADDRESS,
    },
    "FloodMonitoring": {
        "id": "urn:ngsi-ld:FloodMonitoring:KL-Lauter-1",
        "type": "FloodMonitoring",
        "location": KL,
        "referenceLevel": 4.2,
        "measuredDistance": 2.78,
        "currentLevel": 1.42,
        "alertLevel": 2.5,
        "dangerLevel": 3.2,
        "floodLevelStatus": "normal",
        "observationDateTime": "2026-11-25T18:45:00Z",
        "stationID": "KL-L1",
    },
    "WeatherObserved": {
        "id": "urn:ngsi-ld:WeatherObserved:KL-Rathaus",
        "type": "WeatherObserved",
        "location": KL,
        "dateObserved": "2026-11-25T18:00:00Z",
        "temperature": 3.3,
        "relativeHumidity": 0.81,
        "atmosphericPressure": 1012.4,
        "windDirection": 225,
        "windSpeed": 4.2,
        "precipitation": 0.4,
        "pressureTendency": "falling",
        "weatherType": "overcast, lightRain",
        "visibility": "moderate",
    },
    "TrafficFlowObserved": {  # an induction loop on one lane, 15 minutes
        "id": "urn:ngsi-ld:TrafficFlowObserved:KL-B270-Spur1-20261125T1800",
        "type": "TrafficFlowObserved",
        "location": {"type": "LineString", "coordinates": [[7.7601, 49.4312], [7.7612, 49.4320]]},
        "dateObserved": "2026-11-25T18:00:00Z/2026-11-25T18:15:00Z",
        "dateObservedFrom": "2026-11-25T18:00:00Z",
        "dateObservedTo": "2026-11-25T18:15:00Z",
        "laneId": 1,
        "laneDirection": "forward",
        "intensity": 312,
        "occupancy": 0.23,
        "averageVehicleSpeed": 46.5,
        "averageVehicleLength": 4.8,
        "averageHeadwayTime": 2.9,
        "congested": False,
        "vehicleType": "car",
        "refRoadSegment": "urn:ngsi-ld:RoadSegment:KL-B270-3",
    },
    "ItemFlowObserved": {
        "id": "urn:ngsi-ld:ItemFlowObserved:KL-Fussgaengerzone-1",
        "type": "ItemFlowObserved",
        "location": KL,
        "dateObserved": "2026-11-25T18:00:00Z",
        "laneId": 1,
        "itemType": "people",
        "intensity": 1240,
        "laneDirection": "inbound",
        "averageSpeed": 4.1,
        "refDevice": ["urn:ngsi-ld:Device:KL-Cam-7"],
    },
    "Device": {
        "id": "urn:ngsi-ld:Device:KL-Pegel-1-radar",
        "type": "Device",
        "category": ["sensor"],
        "controlledProperty": ["waterLevel", "waterFlow"],
        "supportedProtocol": ["lora"],
        "batteryLevel": 0.87,
        "serialNumber": "VEGA-42-1138",
        "dateInstalled": "2024-04-02T08:00:00Z",
        "refDeviceModel": "urn:ngsi-ld:DeviceModel:VEGAPULS-C21",
        "location": KL,
        "rssi": -97,
    },
    "DeviceModel": {
        "id": "urn:ngsi-ld:DeviceModel:VEGAPULS-C21",
        "type": "DeviceModel",
        "category": ["sensor"],
        "controlledProperty": ["waterLevel"],
        "brandName": "VEGAPULS",
        "modelName": "C 21",
        "manufacturerName": "VEGA",
        "function": ["sensing"],
        "supportedUnits": ["MTR"],
        "documentation": "https://www.vega.com/",
    },
    "AirQualityObserved": {
        "id": "urn:ngsi-ld:AirQualityObserved:KL-Ring",
        "type": "AirQualityObserved",
        "location": KL,
        "dateObserved": "2026-11-25T18:00:00Z",
        "no2": 38.2,
        "pm10": 21.0,
        "pm25": 12.4,
        "o3": 18.0,
        "airQualityLevel": "moderate",
        "airQualityIndex": 54,
        "typeofLocation": "outdoor",
        "reliability": 0.9,
    },
    "NoiseLevelObserved": {
        "id": "urn:ngsi-ld:NoiseLevelObserved:KL-Altstadt-1",
        "type": "NoiseLevelObserved",
        "location": KL,
        "dateObservedFrom": "2026-11-25T17:00:00Z",
        "dateObservedTo": "2026-11-25T18:00:00Z",
        "LAeq": 63.4,
        "LAmax": 88.1,
        "LAS": 61.0,
        "sonometerClass": "1",
    },
    "ParkingSpot": {
        "id": "urn:ngsi-ld:ParkingSpot:KL-Pfaffplatz-17",
        "type": "ParkingSpot",
        "location": KL,
        "status": "free",
        "category": ["onStreet"],
        "refParkingSite": "urn:ngsi-ld:OnStreetParking:KL-Pfaffplatz",
        "width": 2.5,
        "length": 5.0,
        "refDevice": ["urn:ngsi-ld:Device:KL-Spot-17"],
    },
    "OffStreetParking": {
        "id": "urn:ngsi-ld:OffStreetParking:KL-Parkhaus-Rathaus",
        "type": "OffStreetParking",
        "location": KL,
        "name": "Parkhaus Rathaus",
        "category": ["parkingGarage", "public", "feeCharged"],
        "allowedVehicleType": ["car"],
        "chargeType": ["flat"],
        "totalSpotNumber": 420,
        "availableSpotNumber": 133,
        "occupancy": 0.68,
        "status": ["spacesAvailable"],
        "highestFloor": 5,
        "lowestFloor": -1,
        "maximumAllowedHeight": 2.0,
        "requiredPermit": [],
    },
    "Streetlight": {
        "id": "urn:ngsi-ld:Streetlight:KL-Marktstr-12",
        "type": "Streetlight",
        "location": KL,
        "status": "ok",
        "powerState": "on",
        "controllingMethod": "group",
        "locationCategory": "road",
        "illuminanceLevel": 0.7,
        "lanternHeight": 8.0,
        "dateLastLampChange": "2025-10-01T09:00:00Z",
        "refStreetlightGroup": "urn:ngsi-ld:StreetlightGroup:KL-Marktstr",
    },
    "Alert": {
        "id": "urn:ngsi-ld:Alert:KL-Lauter-Hochwasser-1",
        "type": "Alert",
        "location": KL,
        "category": "naturalDisaster",
        "subCategory": "flood",
        "severity": "high",
        "dateIssued": "2026-11-25T18:50:00Z",
        "validFrom": "2026-11-25T18:50:00Z",
        "alertSource": "urn:ngsi-ld:FloodMonitoring:KL-Lauter-1",
        "description": "Pegel über Warnstufe",
    },
}

# (model, changes to the valid entity (None removes), attribute path, rule broken)
INVALID: list[tuple[str, dict[str, Any], str, str]] = [
    ("WaterObserved", {"height": -0.5}, "height", "minimum"),
    ("WaterObserved", {"dateObserved": None}, "dateObserved", "required"),
    ("WaterObserved", {"dateObserved": "25.11.2026 18:45"}, "dateObserved", "format"),
    (
        "WaterObserved",
        {"location": {"type": "Point", "coordinates": [7.7]}},
        "location.coordinates",
        "minItems",
    ),
    ("WaterObserved", {"flow": "3.8 m3/s"}, "flow", "type"),
    ("FloodMonitoring", {"currentLevel": "hoch"}, "currentLevel", "type"),
    ("FloodMonitoring", {"observationDateTime": "gestern"}, "observationDateTime", "format"),
    ("WeatherObserved", {"relativeHumidity": 81}, "relativeHumidity", "maximum"),
    ("WeatherObserved", {"windDirection": 400}, "windDirection", "maximum"),
    ("WeatherObserved", {"pressureTendency": "rising"}, "pressureTendency", "oneOf"),
    ("TrafficFlowObserved", {"laneId": 0}, "laneId", "minimum"),
    ("TrafficFlowObserved", {"laneDirection": "north"}, "laneDirection", "enum"),
    ("TrafficFlowObserved", {"vehicleType": "spaceship"}, "vehicleType", "enum"),
    ("TrafficFlowObserved", {"dateObserved": None}, "dateObserved", "required"),
    ("TrafficFlowObserved", {"occupancy": 1.5}, "occupancy", "maximum"),
    ("ItemFlowObserved", {"laneId": None}, "laneId", "required"),
    ("ItemFlowObserved", {"itemType": "cars"}, "itemType", "enum"),
    ("Device", {"controlledProperty": None}, "controlledProperty", "required"),
    ("Device", {"batteryLevel": 1.5}, "batteryLevel", "maximum"),
    ("Device", {"category": ["toaster"]}, "category[0]", "enum"),
    ("DeviceModel", {"manufacturerName": None}, "manufacturerName", "required"),
    ("DeviceModel", {"deviceClass": "C9"}, "deviceClass", "enum"),
    ("AirQualityObserved", {"no2": -1}, "no2", "minimum"),
    ("AirQualityObserved", {"airQualityLevel": "bad"}, "airQualityLevel", "enum"),
    ("AirQualityObserved", {"airQualityIndex": 54.5}, "airQualityIndex", "type"),
    ("NoiseLevelObserved", {"dateObservedTo": None}, "dateObservedTo", "required"),
    ("NoiseLevelObserved", {"sonometerClass": 1}, "sonometerClass", "enum"),
    ("ParkingSpot", {"status": "taken"}, "status", "enum"),
    ("ParkingSpot", {"refParkingSite": None}, "refParkingSite", "required"),
    ("ParkingSpot", {"category": []}, "category", "minItems"),
    ("OffStreetParking", {"availableSpotNumber": -3}, "availableSpotNumber", "minimum"),
    ("OffStreetParking", {"category": ["parkingGarage", "parkingGarage"]}, "category", "uniqueItems"),
    ("OffStreetParking", {"maximumAllowedHeight": 0}, "maximumAllowedHeight", "exclusiveMinimum"),
    ("Streetlight", {"powerState": "dimmed"}, "powerState", "enum"),
    ("Streetlight", {"status": None}, "status", "required"),
    ("Streetlight", {"illuminanceLevel": 2}, "illuminanceLevel", "maximum"),
    ("Alert", {"alertSource": None}, "alertSource", "required"),
    ("Alert", {"severity": "apocalyptic"}, "severity", "enum"),
    ("Alert", {"subCategory": "unicorns"}, "subCategory", "anyOf"),
]


def variant(model: str, changes: dict[str, Any]) -> dict[str, Any]:
    entity = dict(VALID[model])
    for key, value in changes.items():
        if value is None:
            entity.pop(key, None)
        else:
            entity[key] = value
    return entity


DATE_ATTRIBUTES = {
    "dateObserved",
    "dateObservedFrom",
    "dateObservedTo",
    "dateIssued",
    "validFrom",
    "dateInstalled",
    "dateLastLampChange",
    "observationDateTime",
}


def normalized(key_values: dict[str, Any]) -> dict[str, Any]:
    """The NGSI-LD normalized form of a keyValues example: Relationships for ref*, a GeoProperty location,
    typed DateTime literals for well-formed date attributes."""
    out: dict[str, Any] = {"id": key_values["id"], "type": key_values["type"]}
    for name, value in key_values.items():
        if name in ("id", "type"):
            continue
        if name.startswith("ref") and isinstance(value, str):
            out[name] = {"type": "Relationship", "object": value}
        elif name == "location":
            out[name] = {"type": "GeoProperty", "value": value}
        elif name in DATE_ATTRIBUTES and isinstance(value, str) and value[:4].isdigit() and "/" not in value:
            out[name] = {"type": "Property", "value": {"@type": "DateTime", "@value": value}}
        else:
            out[name] = {"type": "Property", "value": value}
    return out
