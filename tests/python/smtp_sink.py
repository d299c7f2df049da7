"""A real SMTP server for the end-to-end mail tests (tests/tests/email.rs).

aiosmtpd listening on 127.0.0.1:PORT; every accepted message is written to DIR as one `.eml` file
(written whole under another name, then renamed, so a reader never sees half a mail). With
SMTP_SINK_USER and SMTP_SINK_PASSWORD set, the server requires that login (AUTH PLAIN or LOGIN,
over the plain connection, as a relay on the same machine may). Prints "ready" once it listens and
runs until it is killed.

    python smtp_sink.py PORT DIR
"""

import logging
import os
import sys
import time
import uuid
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    def __init__(self, directory):
        self.directory = directory

    async def handle_DATA(self, server, session, envelope):
        name = f"{time.time_ns()}-{uuid.uuid4().hex}"
        partial = os.path.join(self.directory, name + ".partial")
        with open(partial, "wb") as f:
            f.write(b"X-Sink-Rcpt-To: " + ",".join(envelope.rcpt_tos).encode() + b"\r\n")
            f.write(envelope.original_content or envelope.content)
        os.rename(partial, os.path.join(self.directory, name + ".eml"))
        return "250 Message accepted for delivery"


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == user.encode()
            and auth_data.password == password.encode()
        )
        return AuthResult(success=ok)

    return check


def main():
    # The plain-connection login is on purpose (a relay on this machine); no warning about it.
    warnings.simplefilter("ignore")
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    port, directory = int(sys.argv[1]), sys.argv[2]
    os.makedirs(directory, exist_ok=True)
    user, password = os.environ.get("SMTP_SINK_USER"), os.environ.get("SMTP_SINK_PASSWORD")
    options = {}
    if user and password:
        options = dict(
            authenticator=authenticator(user, password),
            auth_required=True,
            auth_require_tls=False,
        )
    controller = Controller(Sink(directory), hostname="127.0.0.1", port=port, **options)
    controller.start()
    print("ready", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
