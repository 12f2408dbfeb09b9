"""The block-RAM floorplan of the lanes (rtl.floorplan) and its way into the Verilog."""

import re

import pytest

from flow.generate import main as generate_main, to_verilog
from golden.config import Config
from rtl.fanout import fanout_groups
from rtl.floorplan import block_ram_sites, lane_sites, multiplier_sites
from rtl.lane import Lane
from rtl.top import SkipLSTM


def _xy(bel):
    x, y = re.match(r"X(\d+)/Y(\d+)/", bel).groups()
    return int(x), int(y)


def _cfg(lanes):
    return Config(name="fp", input_size=50, hidden_size=256, lanes=lanes)


@pytest.mark.parametrize("lanes", [16, 32, 64])
def test_each_lane_gets_neighbouring_sites_of_its_own(lanes):
    cfg = _cfg(lanes)
    banks = Lane.bank_count(cfg)
    sites = lane_sites(cfg, banks, "LFE5U-85F")
    assert sorted(sites) == list(range(lanes))
    every = [s for v in sites.values() for s in v.banks]
    assert len(every) == len(set(every)) == lanes * banks
    known = {s for row in block_ram_sites("LFE5U-85F") for s in row}
    assert set(every) <= known and len(known) == 208
    mults = [v.multiplier for v in sites.values()]
    known = {s for row in multiplier_sites("LFE5U-85F") for s in row}
    assert len(set(mults)) == lanes and set(mults) <= known and len(known) == 156
    for lane, own in sites.items():
        xs = [_xy(s)[0] for s in own.banks]
        ys = {_xy(s)[1] for s in own.banks}
        assert len(ys) == 1, lane                             # one row
        assert max(xs) - min(xs) <= 3 * banks + 11, lane      # side by side (+ free group)
        mx, my = _xy(own.multiplier)
        assert abs(my - ys.pop()) <= 24 and min(xs) - 8 <= mx <= max(xs) + 8, lane


def test_chain_neighbours_sit_next_to_each_other():
    """Lane k takes lane k + P's result: the two share a row and adjacent sites."""
    cfg = _cfg(64)
    P, banks = cfg.cell_units, Lane.bank_count(cfg)
    sites = lane_sites(cfg, banks, "LFE5U-85F")
    rows = block_ram_sites("LFE5U-85F")
    where = {s: (r, i) for r, row in enumerate(rows) for i, s in enumerate(row)}
    for k in range(64 - P):
        (ra, ia), (rb, ib) = where[sites[k].banks[0]], where[sites[k + P].banks[0]]
        assert ra == rb and ib - ia in (banks, banks + 4), k    # + 4: the free group


@pytest.mark.parametrize("lanes", [2, 8, 16, 32, 64, 128])
def test_fanout_groups_are_neighbouring_lanes(lanes):
    """Each fan-out register serves a run of consecutive lanes of the floorplan's order:
    every lane once, at most 8 groups; where the floorplan places the lanes (8 to 64 lanes
    of this size) a group lies in one block-RAM row, within half its width."""
    cfg = _cfg(lanes)
    groups = fanout_groups(cfg)
    assert sorted(k for g in groups for k in g) == list(range(lanes))
    assert len(groups) == min(8, lanes) and {len(g) for g in groups} == {lanes // len(groups)}
    sites = lane_sites(cfg, Lane.bank_count(cfg), "LFE5U-85F")
    if sites is None:
        assert lanes in (2, 128)              # 77 banks per lane; 256 banks in all
        return
    for group in groups:
        xy = [_xy(b) for k in group for b in sites[k].banks]
        assert len({y for _, y in xy}) == 1, group
        assert max(x for x, _ in xy) - min(x for x, _ in xy) <= 64, group


def test_lanes_that_do_not_fit_are_placed_freely():
    cfg = _cfg(128)                                   # 256 banks > 208 sites
    assert lane_sites(cfg, Lane.bank_count(cfg), "LFE5U-85F") is None
    # one bank per lane, but block-RAM rows 70 and 82 share one multiplier row of 52 sites
    small = Config(name="fp", input_size=4, hidden_size=148, lanes=148)
    assert Lane.bank_count(small) == 1
    assert lane_sites(small, 1, "LFE5U-85F") is None
    assert lane_sites(_cfg(64), 3, None) is None
    with pytest.raises(ValueError, match="floorplan device 'LFE5U-25F' is not known; allowed"):
        lane_sites(_cfg(64), 3, "LFE5U-25F")


def test_floorplan_fixes_the_weight_block_rams_in_the_verilog():
    cfg = Config(name="fp_small", input_size=3, hidden_size=8, lanes=2)
    text = to_verilog(SkipLSTM(cfg, target="ecp5", floorplan="LFE5U-85F"), cfg.name)
    sites = lane_sites(cfg, Lane.bank_count(cfg), "LFE5U-85F").values()
    bels = re.findall(r'\(\* BEL = "([^"]+)" \*\)\s*DP16KD', text)
    assert sorted(bels) == sorted(s for v in sites for s in v.banks) and bels
    bels = re.findall(r'\(\* BEL = "([^"]+)" \*\)\s*MULT18X18D', text)
    assert sorted(bels) == sorted(v.multiplier for v in sites) and bels
    free = to_verilog(SkipLSTM(cfg, target="ecp5"), cfg.name)
    assert "BEL" not in free
    # the floorplan moves nothing but placement: the netlists differ only in the attributes
    assert re.sub(r'\(\* BEL = "[^"]+" \*\)\s*', "", text) == free


def test_floorplan_needs_the_ecp5_target_and_a_known_device(tmp_path, capsys):
    cfg = Config(name="fp_small", input_size=3, hidden_size=8, lanes=2)
    with pytest.raises(ValueError, match="floorplan 'LFE5U-85F' needs target 'ecp5'"):
        SkipLSTM(cfg, floorplan="LFE5U-85F")
    with pytest.raises(ValueError, match="floorplan 'XC7A35T' needs target 'ecp5' and one of"):
        SkipLSTM(cfg, target="ecp5", floorplan="XC7A35T")
    with pytest.raises(SystemExit):
        generate_main(["--floorplan", "LFE5U-85F", "--out", str(tmp_path)])
    assert "--floorplan LFE5U-85F needs --target ecp5" in capsys.readouterr().err
