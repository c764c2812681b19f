"""A minimal notification receiver for the notify bench, run as its own process so it does not share the
bench client's GIL: HTTP/1.1 keep-alive on asyncio, 200 to every POST (a GET answers the number received
so far), and one line per notification entity, `<receipt epoch seconds> <entity id> <seq>`, written to
--out when it is terminated (SIGTERM).

    python -m bench.notify_receiver --port P --out receipts.txt
"""

import argparse
import asyncio
import signal
import time

import orjson

_OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


async def _serve(port: int, receipts: list[tuple[float, bytes]]) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if head.startswith(b"GET"):  # the bench asks how many notifications arrived
                    count = str(len(receipts)).encode()
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(count), count))
                    continue
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                body = await reader.readexactly(length) if length else b""
                receipts.append((time.time(), body))
                writer.write(_OK)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=512)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    receipts: list[tuple[float, bytes]] = []
    asyncio.run(_serve(args.port, receipts))
    with open(args.out, "w") as out:
        for at, body in receipts:
            for entity in orjson.loads(body).get("data", ()):
                seq = entity.get("seq", {})
                seq = seq.get("value") if isinstance(seq, dict) else seq
                out.write(f"{at:.6f} {entity['id']} {seq}\n")


if __name__ == "__main__":
    main()
