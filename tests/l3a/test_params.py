"""Synthesis parameters: defaults, the WASP profile, validation, recording."""

import dataclasses
import json

import pytest

from l2a.errors import InvalidParameterError, SyntheoError
from l3a.params import DEFAULT, PROFILES, WASP, CompositeParams, cloud_bit_numbers, cloud_bits_from_text


def test_defaults_follow_spec():
    p = CompositeParams()
    assert p == DEFAULT == CompositeParams.default()
    assert (p.half_window_days, p.min_date_weight, p.date_weight) == (23, 0.5, "ramp")
    assert (p.coarse_resolution_m, p.sigma_small_m, p.sigma_large_m) == (240.0, 480.0, 2400.0)
    assert (p.sigma_small_cells, p.sigma_large_cells) == (2.0, 10.0)
    assert p.cloud_fraction_threshold == 0.5
    assert (p.aot_weight_min, p.aot_weight_max, p.aot_max) == (0.33, 1.0, 0.8)
    assert (p.edge_weight, p.edge_feather_m, p.edge_weight_min) == (True, 3000.0, 0.01)
    assert (p.snow_water_rule, p.snow_and_water_is, p.brdf, p.profile) == ("weighted", "snow", True, "default")
    assert p.cloud_bits == 1  # CLM bit 0: all clouds except the thinnest, and all shadows (SPEC section 4)
    assert p.sun == "central"  # measured better than "observed" against the simulator's truth (see params.py)
    assert (p.outlier_test, p.outlier_min_clear) == (True, 3)
    assert (p.haze_rise, p.haze_rise_relative, p.haze_nir_drop, p.haze_quantile) == (0.01, 0.3, 0.15, 0.25)
    assert (p.shadow_darkening, p.haze_flatness) == (0.25, 0.8)


def test_wasp_profile():
    w = CompositeParams.wasp()
    assert w is WASP and PROFILES["wasp"] is WASP and PROFILES["default"] is DEFAULT
    assert w.profile == "wasp"
    assert w.date_weight == "step"
    assert w.snow_water_rule == "latest"
    assert w.snow_and_water_is == "water"
    assert w.edge_weight is False
    # the cloud and AOT weights are WASP's already
    assert (w.coarse_resolution_m, w.sigma_small_m, w.sigma_large_m) == (240.0, 480.0, 2400.0)
    assert (w.aot_weight_min, w.aot_weight_max, w.aot_max, w.half_window_days) == (0.33, 1.0, 0.8, 23)
    # WASP reads CLM_R1 bit 0 and normalises to nadir at each date's own sun (reference-wasp.md 2.1, 2.6)
    assert (w.cloud_bits, w.sun, w.brdf) == (1, "observed", True)
    assert w.outlier_test is False  # WASP trusts the masks


def test_frozen_and_replace_validates():
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT.half_window_days = 25
    assert dataclasses.replace(DEFAULT, half_window_days=25).half_window_days == 25
    with pytest.raises(InvalidParameterError, match="half_window_days"):
        dataclasses.replace(DEFAULT, half_window_days=-1)


@pytest.mark.parametrize("field, value", [
    ("half_window_days", -1),
    ("half_window_days", 2.5),
    ("half_window_days", "23"),
    ("min_date_weight", 1.5),
    ("min_date_weight", -0.1),
    ("date_weight", "linear"),
    ("coarse_resolution_m", 0),
    ("sigma_small_m", -480),
    ("sigma_large_m", float("nan")),
    ("cloud_fraction_threshold", 1.2),
    ("aot_weight_min", 1.5),  # above aot_weight_max
    ("aot_weight_max", 0),
    ("aot_max", 0),
    ("edge_weight", 1),
    ("edge_feather_m", 0),
    ("edge_weight_min", 2),
    ("edge_resolution_m", -60),
    ("snow_water_rule", "last"),
    ("snow_and_water_is", "ice"),
    ("brdf", "yes"),
    ("cloud_bits", 0),
    ("cloud_bits", 256),
    ("cloud_bits", 1.5),
    ("cloud_bits", "0"),
    ("sun", "noon"),
    ("profile", ""),
    ("outlier_test", 1),
    ("outlier_min_clear", 0),
    ("haze_rise", -0.01),
    ("haze_rise_relative", float("inf")),
    ("haze_nir_drop", 1.5),
    ("haze_quantile", -0.25),
    ("shadow_darkening", 2),
    ("haze_flatness", -0.1),
    ("haze_flatness", float("nan")),
])
def test_invalid_values_name_the_field(field, value):
    with pytest.raises(InvalidParameterError) as info:
        CompositeParams(**{field: value})
    message = str(info.value)
    assert message.startswith(field) and "\n" not in message
    assert isinstance(info.value, SyntheoError) and isinstance(info.value, ValueError)


def test_numbers_are_normalised():
    p = CompositeParams(half_window_days=25.0, coarse_resolution_m=240)
    assert p.half_window_days == 25 and isinstance(p.half_window_days, int)
    assert isinstance(p.coarse_resolution_m, float)


def test_to_dict_round_trip_is_json():
    for p in (DEFAULT, WASP, dataclasses.replace(DEFAULT, profile="custom", sigma_large_m=3000.0),
              dataclasses.replace(DEFAULT, cloud_bits=0b11100011, sun="central")):
        record = p.to_dict()
        assert list(record)[0] == "profile"
        assert CompositeParams.from_dict(json.loads(json.dumps(record))) == p


def test_from_dict_rejects_unknown_keys():
    with pytest.raises(InvalidParameterError, match="^sigma: not a synthesis parameter"):
        CompositeParams.from_dict({"sigma": 2})


def test_records_without_the_new_fields_read_with_their_defaults():
    record = DEFAULT.to_dict()
    del record["cloud_bits"], record["sun"]
    assert CompositeParams.from_dict(record) == DEFAULT


@pytest.mark.parametrize("text, mask", [("0", 1), ("0,1,5,6,7", 0b11100011), (" 4 ", 16), ("7,0", 129),
                                        ("all", 255), ("ALL", 255)])
def test_cloud_bits_from_text(text, mask):
    assert cloud_bits_from_text(text) == mask
    if text.strip().lower() != "all":
        assert cloud_bit_numbers(mask) == tuple(sorted(int(v) for v in text.split(",")))


@pytest.mark.parametrize("text", ["", "8", "-1", "0,,1", "bit0", "1.0"])
def test_cloud_bits_from_text_rejects(text):
    with pytest.raises(InvalidParameterError, match="^cloud_bits"):
        cloud_bits_from_text(text)
