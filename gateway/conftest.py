"""Puts the real ``gateway`` package in front of the gateway's tests.

This folder is named like the package it holds (gateway/gateway/). Under ``--import-mode=importlib`` pytest
names the test modules after their folders (``gateway.tests.…``) and, to do so, imports this folder itself as a
namespace module called ``gateway`` — which would hide the package. Replacing that stand-in with the package
here, before the tests' conftest runs, lets every test import ``gateway.…`` as the services do.
"""

import importlib
import sys

if getattr(sys.modules.get("gateway"), "__file__", None) is None:
    sys.modules.pop("gateway", None)
    importlib.import_module("gateway")
