"""Placement of the lanes' weight block RAMs on a known ECP5 device.

Left to itself, nextpnr scatters the block RAMs of one lane over the whole chip when nearly
all of them are used (201 of 208 with 64 lanes): the banks of one lane end up 60 columns
apart, and a lane's write enable, the bank outputs and the lane's own logic pay for the
distance in routing. A floorplan fixes each lane's banks on neighbouring block-RAM sites
(the ``BEL`` attribute, which nextpnr honours), the lanes in the order of the result chains
(lane ``k`` takes lane ``k + P``'s result, ``P`` chains ending at the ``P`` cell units), so
that a lane's banks sit within a few columns of each other and its chain neighbours next to
it. Everything else (cell units' tables, the x buffer, all logic) is placed by the tool
around them.

Only the block RAMs are fixed: where the lanes' registers and multipliers go follows from
them. ``lane_sites`` returns ``None`` when the device is not known here or the lanes do not
fit the rows; the design is then placed freely (and behaves the same: a floorplan changes
nothing but placement).
"""

from __future__ import annotations

__all__ = ["DEVICES", "lane_sites", "block_ram_sites"]

# LFE5U-85F: four rows of 52 DP16KD sites (tiles X/Y, site EBR0..3), in groups of four
# sites two columns apart
_EBR_85F_ROWS = (22, 46, 70, 82)
_EBR_85F_GROUPS = (4, 13, 22, 31, 40, 49, 58, 69, 78, 87, 96, 105, 114)

DEVICES = ("LFE5U-85F",)


def block_ram_sites(device):
    """The device's DP16KD sites, as rows (lists of BEL names, left to right)."""
    if device != "LFE5U-85F":
        raise ValueError(f"floorplan device {device!r} is not known; allowed: {list(DEVICES)}")
    return [[f"X{x0 + 2 * i}/Y{y}/EBR{i}" for x0 in _EBR_85F_GROUPS for i in range(4)]
            for y in _EBR_85F_ROWS]


def lane_sites(cfg, banks_per_lane, device):
    """``{lane: [BEL name of bank 0, bank 1, ...]}`` on ``device``, or ``None`` when the
    lanes do not fit. The lanes are taken chain by chain (chain p: lanes p, p + P, p + 2P,
    ...; P = ``cfg.cell_units``) and spread evenly over as few rows as hold them (the middle
    rows first), each lane on consecutive sites; the sites left over at the end of each row
    take the other block RAMs."""
    if device is None:
        return None
    rows = block_ram_sites(device)
    rows = [rows[i] for i in sorted(range(len(rows)), key=lambda i: abs(2 * i + 1 - len(rows)))]
    N, P = cfg.lanes, cfg.cell_units
    order = [p + s * P for p in range(P) for s in range(N // P)]
    width = min(len(r) for r in rows)
    for used in range(1, len(rows) + 1):
        per_row = -(-N // used)
        if per_row * banks_per_lane <= width:
            break
    else:
        return None
    sites = {}
    for i, lane in enumerate(order):
        row, slot = rows[i // per_row], i % per_row
        sites[lane] = row[slot * banks_per_lane:(slot + 1) * banks_per_lane]
    return sites
