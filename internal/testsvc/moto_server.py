"""Starts moto's server with one fix for moto 5.2.1.

Every StartExecution deep-copies the state machine, and the copy drags the backend's threads along,
so every execution after the first in a region fails. This copy shares the fields that must stay
shared and copies the rest, so that several executions in a row succeed.
"""
import copy
import sys

from moto.stepfunctions import models

_SHARED = ("executions", "backend", "versions", "aliases", "latest_version")


def _deepcopy(self, memo):
    clone = self.__class__.__new__(self.__class__)
    memo[id(self)] = clone
    for key, value in self.__dict__.items():
        setattr(clone, key, value if key in _SHARED else copy.deepcopy(value, memo))
    return clone


models.StateMachine.__deepcopy__ = _deepcopy

from moto.server import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
