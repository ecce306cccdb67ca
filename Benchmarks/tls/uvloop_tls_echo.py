# uvloop's take on the TLS echo server, for Benchmarks/tls-compare --uvloop: the idiomatic asyncio shape (a
# Protocol whose data_received writes the bytes back) over the standard ssl module on uvloop, whose
# SSLProtocol runs OpenSSL over two memory BIOs, one event loop. Prints `listening on HOST:PORT` as every
# uvdemo server does; exits 0 on SIGINT/SIGTERM.
# Usage: python3 Benchmarks/tls/uvloop_tls_echo.py PORT CERT.pem KEY.pem   (binds 127.0.0.1; PORT 0 picks a
# free one; TLS 1.2 at least, OpenSSL's default ciphers; needs uvloop: python3 -m pip install uvloop)
import asyncio
import signal
import ssl
import sys

import uvloop


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)

    def eof_received(self):
        return False  # the transport closes (after close_notify, over TLS)


async def serve(port, certificate, key):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certificate, key)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Echo, "127.0.0.1", port, ssl=context, backlog=511)
    stopped = loop.create_future()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, lambda: stopped.done() or stopped.set_result(None))
    print(f"listening on 127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
    await stopped
    server.close()


def main():
    if len(sys.argv) != 4:
        print("usage: uvloop_tls_echo.py PORT CERT.pem KEY.pem", file=sys.stderr)
        return 2
    uvloop.run(serve(int(sys.argv[1]), sys.argv[2], sys.argv[3]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
