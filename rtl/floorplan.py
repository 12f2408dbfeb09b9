"""Placement of the lanes' weight block RAMs and multipliers on a known ECP5 device.

Left to itself, nextpnr scatters the block RAMs of one lane over the whole chip when nearly
all of them are used (201 of 208 with 64 lanes): the banks of one lane end up 60 columns
apart and its multiplier 30 columns from them, and a lane's write enables, bank outputs and
accumulator pay for the distance in routing. A floorplan fixes each lane's banks on
neighbouring block-RAM sites and its multiplier beside them (the ``BEL`` attribute, which
nextpnr honours), the lanes in the order of the result chains (lane ``k`` takes lane
``k + P``'s result, ``P`` chains ending at the ``P`` cell units), so that chain neighbours
sit next to each other. Everything else (cell units' tables and multipliers, the x buffer,
all logic) is placed by the tool around them.

``lane_sites`` returns ``None`` when the lanes do not fit the rows; the design is then placed
freely (and behaves the same: a floorplan changes nothing but placement).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEVICES", "LaneSites", "lane_sites", "block_ram_sites", "multiplier_sites"]

# LFE5U-85F: four rows of 52 DP16KD sites and three rows of 52 MULT18X18D sites, both in 13
# groups of four that start at the same columns: block RAMs at x0, x0 + 2, x0 + 4, x0 + 6
# (EBR0..3), multipliers at x0, x0 + 1, x0 + 4, x0 + 5 (MULT18_0, _1, _4, _5)
_85F_GROUPS = (4, 13, 22, 31, 40, 49, 58, 69, 78, 87, 96, 105, 114)
_85F_EBR_ROWS = (22, 46, 70, 82)
_85F_MULT_ROWS = (10, 34, 58)
# the multiplier row serving each block-RAM row (rows 70 and 82 share row 58)
_85F_MULT_FOR = {22: 10, 46: 34, 70: 58, 82: 58}
# block-RAM rows in the order lanes fill them (middle first), and the group left free in
# each row for the other block RAMs (cell-unit tables, x buffer), in the middle of the chip
_85F_FILL = (46, 70, 22, 82)
_85F_FREE_GROUP = 6

DEVICES = ("LFE5U-85F",)


@dataclass(frozen=True)
class LaneSites:
    """Where one lane's block RAMs (bank 0, 1, ...) and multiplier go (BEL names)."""
    banks: tuple
    multiplier: str


def _check(device):
    if device != "LFE5U-85F":
        raise ValueError(f"floorplan device {device!r} is not known; allowed: {list(DEVICES)}")


def block_ram_sites(device):
    """The device's DP16KD sites, as rows (lists of BEL names, left to right)."""
    _check(device)
    return [[f"X{x0 + 2 * i}/Y{y}/EBR{i}" for x0 in _85F_GROUPS for i in range(4)]
            for y in _85F_EBR_ROWS]


def multiplier_sites(device):
    """The device's MULT18X18D sites, as rows (lists of BEL names, left to right)."""
    _check(device)
    return [[f"X{x0 + dx}/Y{y}/MULT18_{dx}" for x0 in _85F_GROUPS for dx in (0, 1, 4, 5)]
            for y in _85F_MULT_ROWS]


def lane_sites(cfg, banks_per_lane, device):
    """``{lane: LaneSites}`` on ``device``, or ``None`` when the lanes do not fit. The lanes
    are taken chain by chain (chain p: lanes p, p + P, p + 2P, ...; P = ``cfg.cell_units``)
    and spread evenly over as few block-RAM rows as hold them, each lane on consecutive
    sites (skipping the group kept free in the middle of each row), its multiplier on the
    free site of the multiplier row next to its block RAMs nearest their middle."""
    if device is None:
        return None
    _check(device)
    ebr = dict(zip(_85F_EBR_ROWS, block_ram_sites(device)))
    mult = dict(zip(_85F_MULT_ROWS, multiplier_sites(device)))
    free = set(range(4 * _85F_FREE_GROUP, 4 * _85F_FREE_GROUP + 4))
    N, P = cfg.lanes, cfg.cell_units
    order = [p + s * P for p in range(P) for s in range(N // P)]
    usable = [i for i in range(len(_85F_GROUPS) * 4) if i not in free]
    for n_rows in range(1, len(_85F_FILL) + 1):
        per_row = -(-N // n_rows)
        if per_row * banks_per_lane <= len(usable):
            break
    else:
        return None
    sites, taken = {}, set()
    for i, lane in enumerate(order):
        y, slot = _85F_FILL[i // per_row], i % per_row
        banks = tuple(ebr[y][j] for j in usable[slot * banks_per_lane:(slot + 1) * banks_per_lane])
        # the free multiplier site nearest the middle of the lane's block RAMs
        xs = [_column(b) for b in banks]
        centre = (min(xs) + max(xs)) / 2
        free = [m for m in mult[_85F_MULT_FOR[y]] if m not in taken]
        if not free:
            return None                   # the multiplier row is full: place freely
        site = min(free, key=lambda m: (abs(_column(m) - centre), _column(m)))
        taken.add(site)
        sites[lane] = LaneSites(banks, site)
    return sites


def _column(bel):
    return int(bel[1:bel.index("/")])
