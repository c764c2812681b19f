"""LoRaWAN payload decoders, chosen per device or group by ``internal_attributes.lorawan.data_model``.

Each decoder turns a frame's bytes (and FPort) into measures named as the vendor's own decoder names them,
so provisioning can map them with ``object_id``. ``application_server`` means "use the network server's
decoded payload" (TTS ``decoded_payload``, ChirpStack ``object``), as in IoTAgent-LoRaWAN.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agents.decoders import cayenne, decentlab, milesight, parametric
from agents.decoders.frames import DecodeError

Decoder = Callable[[bytes, int | None], dict[str, Any]]

DECODERS: dict[str, Decoder] = {
    "cayennelpp": cayenne.decode,
    "decentlab_dl_mbx": decentlab.decode_dl_mbx,
    "milesight_em500_udl": milesight.decode_em500_udl,
    "milesight_em310_udl": milesight.decode_em310_udl,
    "parametric_pcr2": parametric.decode_pcr2,
}
APPLICATION_SERVER = "application_server"
ALIASES = {
    "dl-mbx": "decentlab_dl_mbx",
    "em500-udl": "milesight_em500_udl",
    "em310-udl": "milesight_em310_udl",
    "pcr2": "parametric_pcr2",
    "cayenne": "cayennelpp",
}


def decoder_for(data_model: str) -> Decoder | None:
    """None for ``application_server``; KeyError for a name we do not know."""
    name = ALIASES.get(data_model.lower(), data_model.lower())
    if name == APPLICATION_SERVER:
        return None
    return DECODERS[name]


__all__ = ["APPLICATION_SERVER", "DECODERS", "DecodeError", "decoder_for"]
