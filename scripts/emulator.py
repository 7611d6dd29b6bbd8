#!/usr/bin/env python3
"""moto's server, answering one request at a time.

    emulator.py HOST PORT

`moto_server` serves requests on many threads, and its DynamoDB has no lock:
two concurrent TransactWriteItems can interleave their condition checks and
writes, which DynamoDB never does. Serving one request at a time gives each
call the atomicity DynamoDB guarantees, while the functions' multi-call
operations (read, then write) still race each other as they do deployed.
"""

import signal
import sys

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    run_simple(host, port, DomainDispatcherApplication(create_backend_app), threaded=False,
               request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
