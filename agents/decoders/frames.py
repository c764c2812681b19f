"""Byte-reading helpers shared by the decoders; a short or malformed frame is a DecodeError."""

from __future__ import annotations


class DecodeError(ValueError):
    pass


class Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def left(self) -> int:
        return len(self.data) - self.pos

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise DecodeError(f"frame ends after {len(self.data)} bytes, {self.pos + n} needed")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def u16be(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def s16be(self) -> int:
        return int.from_bytes(self.take(2), "big", signed=True)

    def u16le(self) -> int:
        return int.from_bytes(self.take(2), "little")

    def u32le(self) -> int:
        return int.from_bytes(self.take(4), "little")

    def signed(self, n: int, order: str = "big") -> int:
        return int.from_bytes(self.take(n), order, signed=True)  # type: ignore[arg-type]

    def unsigned(self, n: int, order: str = "big") -> int:
        return int.from_bytes(self.take(n), order)  # type: ignore[arg-type]
