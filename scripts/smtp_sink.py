"""A real SMTP server for the tests (aiosmtpd): every message it accepts is written whole to
DIR as NNNNNN.eml, as the server received it, once the DATA command has been accepted.

    smtp_sink.py DIR [--port N] [--delay SECONDS] [--delay-rcpt SECONDS] [--tokens FILE]
                     [--refuse-to PATTERN]

It prints `listening on PORT` when it is ready. --delay holds each DATA before answering (the
message is kept even if the sender is gone by then); --delay-rcpt holds each RCPT before the
message is sent (so a sender can be killed mid-batch without having delivered anything);
--tokens FILE lets a RCPT through only while FILE holds a number above zero, and takes one
(the test decides exactly how many messages go out before it kills the sender); --refuse-to
answers 550 for recipients containing PATTERN.
Installed and started by scripts/test (aiosmtpd into target/external/smtp).
"""

import argparse
import asyncio
import itertools
import os
import signal
import sys

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory, delay, delay_rcpt, tokens, refuse):
        self.tokens = tokens
        self.directory = directory
        self.delay = delay
        self.delay_rcpt = delay_rcpt
        self.refuse = refuse
        self.numbers = itertools.count(len(os.listdir(directory)) + 1)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.delay_rcpt:
            await asyncio.sleep(self.delay_rcpt)
        while self.tokens and not self.take_token():
            await asyncio.sleep(0.01)
        if self.refuse and self.refuse in address:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    def take_token(self):
        try:
            with open(self.tokens) as f:
                left = int(f.read().strip() or "0")
        except FileNotFoundError:
            return False
        if left <= 0:
            return False
        with open(self.tokens + ".new", "w") as f:
            f.write(str(left - 1))
        os.rename(self.tokens + ".new", self.tokens)
        return True

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        n = next(self.numbers)
        path = os.path.join(self.directory, f"{n:06}.eml")
        partial = path + ".part"
        with open(partial, "wb") as f:
            f.write(f"X-Envelope-From: {envelope.mail_from}\r\n".encode())
            f.write(f"X-Envelope-To: {','.join(envelope.rcpt_tos)}\r\n".encode())
            f.write(envelope.original_content)
            f.flush()
            os.fsync(f.fileno())
        os.rename(partial, path)
        return "250 2.0.0 accepted"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("directory")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0)
    parser.add_argument("--delay-rcpt", type=float, default=0)
    parser.add_argument("--tokens", default="")
    parser.add_argument("--refuse-to", default="")
    args = parser.parse_args()
    os.makedirs(args.directory, exist_ok=True)
    port = args.port
    if port == 0:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
    controller = Controller(
        Sink(args.directory, args.delay, args.delay_rcpt, args.tokens, args.refuse_to),
        hostname="127.0.0.1",
        port=port,
        decode_data=False,
        server_kwargs={"data_size_limit": 10 * 1024 * 1024},
    )
    controller.start()
    print(f"listening on {port}", flush=True)
    signal.sigwait({signal.SIGINT, signal.SIGTERM})
    controller.stop()


if __name__ == "__main__":
    sys.exit(main())
