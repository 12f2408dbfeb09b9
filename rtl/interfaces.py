"""The accelerator's internal links: the widths, computed once from the configuration, and one
signature per link, joined in the top with ``wiring.connect``.

Signatures are given from the driver's side (``Out`` = driven by the component that has the
link as ``Out``; a receiver takes it ``In``, i.e. flipped):

=================  ======================  ======================  =========================
link               driver                  receivers               kind
=================  ======================  ======================  =========================
``column``         ``ColumnIssue``,        each ``LaneFanout``,    one column per cycle
                   each ``LaneFanout``     its group's ``Lane``s
``element``        ``ColumnIssue``         ``IndexList``           the column's v element
``x_list``,        ``ColumnIssue``         ``IndexList``           list index out, entry in
``h_list``                                                         (combinational read)
``param``          ``ParamLoader``,        each ``LaneFanout``,    weight / bias write, with
                   each ``LaneFanout``     its group's ``Lane``s   the lane it is for
``x``              top (x register slice)  ``IndexList``           stream of x elements
``w``              top (w register slice)  ``ParamLoader``         stream of parameter beats
``h_write``        top (gather register)   ``IndexList``           a whole h_t group
``rows``           lanes' result chains    each ``CellUnit``       stream of row results
``h``              each ``CellUnit``       top (gather register)   stream of h_t values
=================  ======================  ======================  =========================

The row-result and h streams are ``always_ready`` (the pipeline never stalls); the x and
parameter streams carry back-pressure. The flat AXI names of docs/contract.md appear only on
the top's ports.
"""

from amaranth.hdl import signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from golden.layout import N_GATES

__all__ = ["Geometry", "GATE_BITS", "entry_layout", "column", "element", "list_read",
           "param_write", "h_write", "x_stream", "param_stream", "row_results", "h_values"]

# A local row is G j + q (``golden.layout``): with G a power of two, its low bits are the gate.
assert N_GATES & (N_GATES - 1) == 0, "local rows split into unit and gate bits"
GATE_BITS = (N_GATES - 1).bit_length()


class Geometry:
    """Widths shared by the components, from a golden ``Config``."""

    def __init__(self, cfg):
        self.cfg = cfg
        f = cfg.formats
        self.lanes = cfg.lanes
        #: a lane's weight memory address (rows_per_lane x columns words)
        self.addr_width = ceil_log2(max(cfg.rows_per_lane * cfg.columns, 2))
        #: a local row (unit group and gate)
        self.row_width = ceil_log2(max(cfg.rows_per_lane, N_GATES))
        self.unit_width = max(self.row_width - GATE_BITS, 1)
        #: an x or h group (N consecutive elements)
        self.group_width = ceil_log2(max(cfg.x_groups, cfg.h_groups, 2))
        #: an element within a group
        self.bit_shape = range(max(cfg.lanes, 2))
        #: a cell unit's slot (lane P s + p)
        self.slot_width = ceil_log2(max(cfg.min_columns, 2))
        self.x_shape = signed(f.input.bits)
        self.weight_shape = signed(f.weight.bits)
        self.bias_shape = signed(f.bias.bits)
        self.state_shape = signed(f.state.bits)
        self.acc_shape = signed(cfg.accumulator.bits)
        self.vector_shape = signed(cfg.vector.bits)


def entry_layout(cfg, groups):
    """A list entry: a group of N consecutive elements, the mask of its nonzero ones, the
    number of them less one and whether it is one (so that the column issue never counts the
    bits of a wide mask), and the group's first column in the weight rows (x group g: g N;
    h group j: X + j N). All computed when the entry is written, so that nothing but
    multiplexers follows the list read."""
    return data.StructLayout({"group": ceil_log2(max(groups, 2)), "mask": cfg.lanes,
                              "cm1": range(max(cfg.lanes, 2)), "single": 1,
                              "base": range(cfg.columns + 1)})


def column(geo):
    """A column for the lanes: its weight address, local row, first / last of the row; with
    the ``overlap`` option also ``part``: the column belongs to a step's x pass (the row
    starts from its bias and ends in the lane's partial sum; otherwise it starts from the
    partial sum and ends in the lane's result)."""
    members = {"valid": Out(1), "first": Out(1), "last": Out(1),
               "addr": Out(geo.addr_width), "row": Out(geo.row_width)}
    if geo.cfg.overlap:
        members["part"] = Out(1)
    return wiring.Signature(members)


def element(geo):
    """The read of a column's v element: x (kind 0) or h (kind 1), group, bit; ``zero``
    forces the value to 0 (null columns, h at a sequence start)."""
    return wiring.Signature({"en": Out(1), "kind": Out(1), "group": Out(geo.group_width),
                             "bit": Out(geo.bit_shape), "zero": Out(1)})


def list_read(cfg, groups):
    """A combinational read of a nonzero-index list: the index out, the entry back."""
    return wiring.Signature({"index": Out(range(max(groups, 1))),
                             "entry": In(entry_layout(cfg, groups))})


def param_write(geo):
    """A weight or a bias write, broadcast to the lanes: ``w_valid`` / ``b_valid`` for lane
    number ``lane`` (each lane compares it with its own index)."""
    return wiring.Signature({"w_valid": Out(1), "b_valid": Out(1), "lane": Out(geo.bit_shape),
                             "w_addr": Out(geo.addr_width), "w_data": Out(geo.weight_shape),
                             "b_addr": Out(geo.row_width), "b_data": Out(geo.bias_shape)})


def h_write(geo):
    """A whole group of h_t: N state words, the nonzero mask and its number of set bits."""
    n = geo.lanes
    return wiring.Signature({"en": Out(1), "group": Out(range(max(geo.cfg.h_groups, 2))),
                             "row": Out(unsigned(n * geo.state_shape.width)),
                             "mask": Out(n), "count": Out(range(n + 1))})


def x_stream(geo):
    """x elements, one per beat; ``last`` on element X-1, ``user`` on a sequence's first;
    ``nz``: the element is not 0 (computed by the sender, off the receiver's accept path)."""
    return stream.Signature(data.StructLayout({"data": geo.x_shape, "last": 1, "user": 1,
                                               "nz": 1}))


def param_stream(width):
    """Parameter beats (``width`` bits each), ``last`` on the load's final beat."""
    return stream.Signature(data.StructLayout({"data": width, "last": 1}))


def row_results(geo):
    """Row results for a cell unit: accumulator, local row, slot; one per cycle at most."""
    return stream.Signature(data.StructLayout({
        "acc": geo.acc_shape, "row": geo.row_width, "slot": geo.slot_width}),
        always_ready=True)


def h_values(geo):
    """Pruned h_t values from a cell unit: value, nonzero flag, slot and unit group."""
    return stream.Signature(data.StructLayout({
        "data": geo.state_shape, "nz": 1, "slot": geo.slot_width, "unit": geo.unit_width}),
        always_ready=True)
