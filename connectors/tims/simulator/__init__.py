"""A simulator of TIMS as WE ASSUME it (connectors/tims/README.md): a test double, not TIMS."""

from connectors.tims.simulator.app import SimCredentials, SimulatorApp
from connectors.tims.simulator.server import TimsSimulator

__all__ = ["SimCredentials", "SimulatorApp", "TimsSimulator"]
