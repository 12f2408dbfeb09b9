"""Configuration parsing and validation errors (structure, not numerics)."""

import pytest

from golden.config import Config, ConfigError, config_from_dict, load_config
from golden.fixed import Format


def test_default_config_file_matches_defaults():
    """configs/default.toml spells out the defaults, except the weight format: {8, 4} for the
    range of the shipped PTB model's weights (docs/contract.md section 5)."""
    cfg = load_config()
    assert cfg.formats.weight == Format(8, 4) and Config().formats.weight == Format(8, 6)
    assert cfg == Config(formats=Config().formats.replace(weight=Format(8, 4)))
    assert (cfg.X, cfg.H, cfg.N, cfg.rows_per_lane) == (50, 256, 64, 16)
    assert (cfg.cell_units, cfg.min_columns) == (4, 16)
    assert cfg.accumulator == Format(32, 16) and Config().accumulator == Format(32, 18)


def test_partial_config_takes_defaults():
    cfg = config_from_dict({"input_size": 3, "hidden_size": 8, "lanes": 2,
                            "formats": {"weight": {"bits": 6, "frac": 4}}})
    assert cfg.formats.weight == Format(6, 4) and cfg.formats.state == Format(16, 12)


@pytest.mark.parametrize("data,msg", [
    ({"hidden_size": 0}, r"'hidden_size' = 0 is invalid: must be in \[1, 4096\]"),
    ({"input_size": -3}, r"'input_size' = -3 is invalid"),
    ({"input_size": 2.5}, r"'input_size' = 2.5 is invalid: must be an integer"),
    ({"lanes": 0}, r"'lanes' = 0 is invalid: must be in \[1, hidden_size=256\]"),
    ({"lanes": 8, "cell_units": 3}, r"'cell_units' = 3 is invalid: must divide lanes=8 .*"
                                    r"allowed: \[1, 2, 4, 8\]"),
    ({"lanes": 300}, r"'lanes' = 300 is invalid"),
    ({"overlap": 1}, r"'overlap' = 1 is invalid: must be true or false"),
    ({"lanes": 24}, r"'lanes' = 24 is invalid: must divide hidden_size=256 .*allowed: "
                    r"\[1, 2, 4, 8, 16, 32, 64, 128, 256\]"),
    ({"formats": {"weight": {"bits": 8, "frac": 9}}},
     r"'formats.weight.frac' = 9 is invalid: must be in \[0, bits-1\] = \[0, 7\]"),
    ({"formats": {"weight": {"bits": 20, "frac": 4}}},
     r"'formats.weight.bits' = 20 is invalid: must be in \[2, 18\]"),
    ({"formats": {"state": {"bits": 1, "frac": 0}}}, r"'formats.state.bits' = 1"),
    ({"formats": {"state": {"bits": 16}}}, r"'formats.state' .* exactly the keys 'bits' and 'frac'"),
    ({"formats": {"hidden": {"bits": 8, "frac": 4}}}, r"'formats.hidden' .* unknown format"),
    ({"formats": {"bias": {"bits": 32, "frac": 31}}},
     r"'formats.bias.frac' = 31 is invalid: must be <= weight.frac \+ max\(input.frac, "
     r"state.frac\) = 18"),
    ({"name": "my-core"}, r"'name' = 'my-core' is invalid: must be a Verilog identifier"),
    ({"sizes": 3}, r"'sizes' = 3 is invalid: unknown key"),
    ({"internal": {"act_segments": 100}}, r"'internal.act_segments' = 100 is invalid: must "
                                          r"be a power of two"),
    ({"internal": {"gate": {"bits": 16, "frac": 12}}}, r"'internal.gate'"),
])
def test_invalid_configs_name_field_value_and_range(data, msg):
    with pytest.raises(ConfigError, match=msg):
        config_from_dict({"input_size": 50, "hidden_size": 256, **data})


@pytest.mark.parametrize("data,missing", [({}, "input_size"), ({"input_size": 3}, "hidden_size"),
                                          ({"hidden_size": 8, "lanes": 2}, "input_size")])
def test_required_keys(data, missing):
    with pytest.raises(ConfigError, match=f"config field '{missing}' is missing: it is required"):
        config_from_dict(data)


def test_config_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="cannot read configuration file"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("input_size = [")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_config(bad)
    ok = tmp_path / "ok.toml"
    ok.write_text('name = "tiny"\ninput_size = 3\nhidden_size = 8\nlanes = 8\n')
    assert load_config(ok).name == "tiny"


def test_config_roundtrip_through_dict():
    cfg = Config(input_size=7, hidden_size=12, lanes=4)
    assert config_from_dict(cfg.to_dict()) == cfg
