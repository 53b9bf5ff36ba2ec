import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hyperprover.envs.sr.floats import (
    INF_TOKEN,
    NAN_TOKEN,
    NEG_INF_TOKEN,
    FloatTokenError,
    decode_float,
    encode_float,
    float_vocab,
    round_float,
)

VOCAB = set(float_vocab())
representable = st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: 1e-96 < abs(x) < 9.99e103)


@given(representable)
def test_round_trip_keeps_four_significant_digits(x):
    toks = encode_float(x)
    assert len(toks) == 3 and toks[0] == ("-" if x < 0 else "+")
    assert 1000 <= int(toks[1][1:]) <= 9999
    y, end = decode_float(toks)
    assert end == 3
    assert abs(y - x) <= 5.0001e-4 * abs(x)
    assert round_float(y) == y  # encoding is idempotent on what the model sees


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_every_float_encodes_into_the_vocabulary(x):
    toks = encode_float(x)
    assert all(t in VOCAB for t in toks)
    y, end = decode_float(toks + ["tail"])
    assert end == len(toks)
    if math.isnan(x):
        assert math.isnan(y)
    elif abs(x) < 1e-97:
        assert y == 0.0
    elif abs(x) > 1e104:
        assert math.isinf(y) and (y > 0) == (x > 0)


def test_special_values():
    assert encode_float(math.nan) == [NAN_TOKEN]
    assert encode_float(math.inf) == [INF_TOKEN]
    assert encode_float(-math.inf) == [NEG_INF_TOKEN]
    assert encode_float(0.0) == ["+", "N0000", "E0"]
    assert encode_float(-0.0) == ["-", "N0000", "E0"]
    assert encode_float(1e200) == [INF_TOKEN]  # overflow of the exponent range
    assert encode_float(-1e200) == [NEG_INF_TOKEN]
    assert encode_float(1e-200) == ["+", "N0000", "E0"]  # underflow
    assert encode_float(-1e-200) == ["-", "N0000", "E0"]
    assert encode_float(3.14159) == ["+", "N3142", "E-3"]
    assert encode_float(-12.0) == ["-", "N1200", "E-2"]
    assert encode_float(9999.6) == ["+", "N1000", "E1"]  # rounding carries into the exponent


@pytest.mark.parametrize("toks,where", [
    ([], "missing"), (["x"], "does not start"), (["+", "N12", "E0"], "mantissa"), (["+", "N1234"], "cut short"),
    (["+", "N1234", "K3"], "exponent"), (["+", "N1234", "E101"], "outside"), (["-", "N1234", "Eab"], "exponent"),
])
def test_bad_float_tokens_are_clear_errors(toks, where):
    with pytest.raises(FloatTokenError, match=where):
        decode_float(toks)
