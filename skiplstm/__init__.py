"""SkipLSTM host package: the UART bridge protocol and the board driver."""

from .driver import Device, DeviceError, DeviceTimeout, DriverError, SerialTransport
from .protocol import ProtocolError

__all__ = ["Device", "DeviceError", "DeviceTimeout", "DriverError", "ProtocolError",
           "SerialTransport"]
