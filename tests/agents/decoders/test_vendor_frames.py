"""Each decoder on the example frames its vendor publishes (datasheets / official decoder repositories)."""

from __future__ import annotations

import pytest

from agents.decoders import DecodeError, decoder_for


@pytest.mark.parametrize(
    ("data_model", "frame", "port", "expected"),
    [
        # decentlab/decentlab-decoders DL-MBX/DL-MBX.js main()
        (
            "decentlab_dl_mbx",
            "02012f000304d200010bb1",
            1,
            {
                "protocol_version": 2,
                "device_id": 303,
                "distance": 1234,
                "number_of_valid_samples": 1,
                "battery_voltage": 2.993,
            },
        ),
        (
            "decentlab_dl_mbx",
            "02012f00020bb1",
            1,
            {"protocol_version": 2, "device_id": 303, "battery_voltage": 2.993},
        ),
        # Milesight-IoT/SensorDecoders EM500-UDL README: 017564 03821E00
        ("milesight_em500_udl", "01756403821e00", 85, {"battery": 100, "distance": 30}),
        # Milesight-IoT/SensorDecoders EM310-UDL README: 01755C 03824408 040001
        (
            "milesight_em310_udl",
            "01755c03824408040001",
            85,
            {"battery": 92, "distance": 2116, "position": "tilt"},
        ),
        # TheThingsNetwork/lorawan-devices vendor/parametric/pcr2-codec.yaml "PCR2 Application Payload V4"
        (
            "parametric_pcr2",
            "be010400010002000300041c200ce40139",
            14,
            {
                "LTR": 1,
                "RTL": 2,
                "LTR_SUM": 3,
                "RTL_SUM": 4,
                "SBX_BATT": 7200,
                "SBX_PV": 3300,
                "DIFF": 1,
                "TEMP": 31,
            },
        ),
        ("parametric_pcr2", "0a0005160003", 14, {"LTR": 5, "RTL": 3}),
        ("parametric_pcr2", "be0105" + "00" * 31, 190, {}),  # configuration, not a measure
        # Cayenne LPP documentation examples
        ("cayennelpp", "03670110056700ff", 1, {"temperature_3": 27.2, "temperature_5": 25.5}),
        (
            "cayennelpp",
            "0167ffd7067104d2fb2e0000",
            1,
            {"temperature_1": -4.1, "accelerometer_6": {"x": 1.234, "y": -1.234, "z": 0.0}},
        ),
        (
            "cayennelpp",
            "018806765ff2960a0003e8",
            1,
            {"gps_1": {"latitude": 42.3519, "longitude": -87.9094, "altitude": 10.0}},
        ),
    ],
)
def test_vendor_example_frames_decode_as_published(
    data_model: str, frame: str, port: int, expected: dict
) -> None:
    assert decoder_for(data_model)(bytes.fromhex(frame), port) == expected


@pytest.mark.parametrize(
    ("data_model", "frame"),
    [
        ("decentlab_dl_mbx", "03012f00020bb1"),  # wrong protocol version
        ("decentlab_dl_mbx", "02012f000304d2"),  # cut short
        ("milesight_em310_udl", "0175"),
        ("milesight_em500_udl", "99990000"),
        ("parametric_pcr2", "ff00"),
        ("cayennelpp", "01ff00"),
        ("cayennelpp", ""),
    ],
)
def test_frames_a_decoder_cannot_parse_are_errors(data_model: str, frame: str) -> None:
    with pytest.raises(DecodeError):
        decoder_for(data_model)(bytes.fromhex(frame), 14)
