"""The soak test uses the system tests' fixtures (a real vswitchd, real
namespaces, cleanup even on failure): they are loaded from
tests/system/conftest.py under a name of their own."""

import importlib.util
import sys
from pathlib import Path

SYSTEM = Path(__file__).resolve().parents[1] / "system"
sys.path.insert(0, str(SYSTEM))

_spec = importlib.util.spec_from_file_location("system_conftest",
                                               SYSTEM / "conftest.py")
system_conftest = importlib.util.module_from_spec(_spec)
sys.modules["system_conftest"] = system_conftest
_spec.loader.exec_module(system_conftest)

topo = system_conftest.topo
daemon_factory = system_conftest.daemon_factory
