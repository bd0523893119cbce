"""Starts moto's server with one fix for moto 5.2.1 and a route that names the server.

Every StartExecution deep-copies the state machine, and the copy drags the backend's threads along,
so every execution after the first in a region fails. This copy shares the fields that must stay
shared and copies the rest, so that several executions in a row succeed.

GET /kpilake-id answers KPILAKE_MOTO_ID, the token the starting test binary put in the environment.
A port is free only until something binds it: when another test binary's server takes the port
first, this one cannot bind and exits, and the starter, asking that port who answers, learns that
the server there is not its own and starts again on another port.
"""
import copy
import os
import sys

import moto.server
from moto.stepfunctions import models

_SHARED = ("executions", "backend", "versions", "aliases", "latest_version")


def _deepcopy(self, memo):
    clone = self.__class__.__new__(self.__class__)
    memo[id(self)] = clone
    for key, value in self.__dict__.items():
        setattr(clone, key, value if key in _SHARED else copy.deepcopy(value, memo))
    return clone


models.StateMachine.__deepcopy__ = _deepcopy


class _Identified:
    """WSGI middleware that answers GET /kpilake-id with the token and passes the rest to moto."""

    def __init__(self, app, token):
        self.app = app
        self.token = token.encode()

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == "/kpilake-id" and environ.get("REQUEST_METHOD") == "GET":
            start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(self.token)))])
            return [self.token]
        return self.app(environ, start_response)


# moto.server.main builds its application and hands it to run_simple: wrap it on the way.
_run_simple = moto.server.run_simple


def _run_identified(hostname, port, application, *args, **kwargs):
    return _run_simple(hostname, port, _Identified(application, os.environ["KPILAKE_MOTO_ID"]), *args, **kwargs)


moto.server.run_simple = _run_identified

if __name__ == "__main__":
    sys.exit(moto.server.main(sys.argv[1:]))
