"""SkipLSTM host package: the UART bridge protocol, the board driver, and the path from a
trained PyTorch LSTM to a verified Verilog IP (``from_torch``, loaded on first use: the
driver imports neither Amaranth nor PyTorch)."""

from .driver import Device, DeviceError, DeviceTimeout, DriverError, SerialTransport
from .protocol import ProtocolError

__all__ = ["Device", "DeviceError", "DeviceTimeout", "DriverError", "ProtocolError",
           "SerialTransport", "from_torch", "Design", "DesignError"]


def from_torch(model, lanes=4, theta=0.0, name="skiplstm", formats=None, cell_units=None,
               overlap=False):
    """A :class:`skiplstm.design.Design` from a one-layer ``torch.nn.LSTM`` /
    ``torch.nn.LSTMCell``, a state_dict of either, or a ``.pt`` path."""
    from .design import from_torch as _from_torch
    return _from_torch(model, lanes=lanes, theta=theta, name=name, formats=formats,
                       cell_units=cell_units, overlap=overlap)


def __getattr__(name):
    if name in ("Design", "DesignError", "SimRun"):
        from . import design
        return getattr(design, name)
    raise AttributeError(f"module 'skiplstm' has no attribute {name!r}")
