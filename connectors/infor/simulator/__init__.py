"""A wire-faithful fake of the ION API gateway + M3 REST API, for tests, the demo and
benchmarks. `M3Simulator` runs it in-process; `cli.py` runs it from `manage.py simulate m3`."""

from connectors.infor.simulator.server import Fault, M3Simulator
from connectors.infor.simulator.state import M3State

__all__ = ["Fault", "M3Simulator", "M3State"]
