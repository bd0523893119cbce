"""Starts moto's server with one fix for moto 5.2.1, four of its costs cut, and a route that names
the server.

The fix: every StartExecution deep-copies the state machine, and the copy drags the backend's
threads along, so every execution after the first in a region fails. This copy shares the fields
that must stay shared and copies the rest, so that several executions in a row succeed.

The costs, each work that moto 5.2.1 redoes with the same input and the same result (the tests'
moto spent most of its CPU on them; the answers do not change):
- every request lists moto's package directory and stats each entry, twice, under the server's one
  lock (werkzeug_app.get_backend_for_host asks backends.list_of_moto_modules): listed once here;
- every response's service model is loaded by a new botocore loader, which first scans every
  service's data directory, and requests arriving together before the first load ends each load
  it: one loader, and one load per service;
- every JSONPath that a state machine evaluates builds jsonpath_ng's parser afresh (a PLY table
  generation) before parsing it: each path is parsed once;
- every state machine definition is parsed by ANTLR when the machine is created and again at each
  execution: each definition's parse tree is built once, and each caller still gets components of
  its own, made from the tree as before.

GET /kpilake-id answers KPILAKE_MOTO_ID, the token the starting test binary put in the environment.
A port is free only until something binds it: when another test binary's server takes the port
first, this one cannot bind and exits, and the starter, asking that port who answers, learns that
the server there is not its own and starts again on another port.
"""
import copy
import functools
import importlib.abc
import os
import sys
import threading

import moto.server
from moto import backends
from moto.core import responses as core_responses
from moto.core import utils as core_utils
from moto.stepfunctions import models

_SHARED = ("executions", "backend", "versions", "aliases", "latest_version")


def _deepcopy(self, memo):
    clone = self.__class__.__new__(self.__class__)
    memo[id(self)] = clone
    for key, value in self.__dict__.items():
        setattr(clone, key, value if key in _SHARED else copy.deepcopy(value, memo))
    return clone


models.StateMachine.__deepcopy__ = _deepcopy

_MODULES = tuple(backends.list_of_moto_modules())
backends.list_of_moto_modules = lambda: _MODULES

_LOADER = core_utils.create_loader()
core_utils.create_loader = lambda: _LOADER

_load_service_model = core_utils.get_service_model
_service_models = {}
_service_models_lock = threading.Lock()


def _get_service_model(name):
    with _service_models_lock:
        if name not in _service_models:
            _service_models[name] = _load_service_model(name)
        return _service_models[name]


core_utils.get_service_model = core_responses.get_service_model = _get_service_model


def _parse_once(module):
    module.parse = functools.lru_cache(maxsize=None)(module.parse)


_trees = {}
_trees_lock = threading.Lock()


def _parse_definitions_once(asl_parser):
    from antlr4 import CommonTokenStream, InputStream
    from moto.stepfunctions.parser.asl.antlr.runtime.ASLLexer import ASLLexer
    from moto.stepfunctions.parser.asl.antlr.runtime.ASLParser import ASLParser
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    def parse(definition):
        """AmazonStateLanguageParser.parse, with the parse tree of each definition built once."""
        with _trees_lock:
            tree = _trees.get(definition)
        if tree is None:
            listener = asl_parser.SyntaxErrorListener()
            parser = ASLParser(CommonTokenStream(ASLLexer(InputStream(definition))))
            parser.removeErrorListeners()
            parser.addErrorListener(listener)
            tree = parser.state_machine()
            if listener.errors:
                raise asl_parser.ASLParserException(errors=listener.errors)
            with _trees_lock:
                _trees[definition] = tree
        return Preprocessor().visit(tree), tree

    asl_parser.AmazonStateLanguageParser.parse = staticmethod(parse)


class _AfterImport(importlib.abc.MetaPathFinder):
    """Patches a module right after its first import: the Step Functions parser costs a second and a
    half to import, and most servers never run a state machine; the modules imported already are
    patched at once."""

    patches = {
        "moto.stepfunctions.parser.asl.utils.json_path": _parse_once,
        "moto.stepfunctions.parser.asl.component.common.path.result_path": _parse_once,
        "moto.stepfunctions.parser.asl.parse.asl_parser": _parse_definitions_once,
    }

    def find_spec(self, name, path, target=None):
        patch = self.patches.get(name)
        if patch is None:
            return None
        for finder in sys.meta_path:
            if finder is not self and hasattr(finder, "find_spec"):
                spec = finder.find_spec(name, path, target)
                if spec is not None:
                    break
        else:
            return None
        exec_module = spec.loader.exec_module

        def exec_and_patch(module):
            exec_module(module)
            patch(module)

        spec.loader.exec_module = exec_and_patch
        return spec


for _name, _patch in _AfterImport.patches.items():
    if _name in sys.modules:  # already imported (moto may import one before this line runs)
        _patch(sys.modules[_name])
sys.meta_path.insert(0, _AfterImport())


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
