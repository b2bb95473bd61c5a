"""Property-based tests: decoders and the whole pipeline never crash, never hang, never lie.

"Never lie" means: a decoder reports ``ok`` only for a support whose re-encoded parity bits lie within the
decoding radius of what it was given, and the pipeline reports only terms that passed verification — in
the noise-free case, that is, only true terms.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import spexjax
from spexjax.kernels.bch import decode_hard, decode_soft, encode_support, make_code
from spexjax.testing import SparseFourier

SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(
    n=st.sampled_from([1, 9, 37, 300]),
    t=st.integers(1, 3),
    seed=st.integers(0, 2**31 - 1),
)
def test_hard_decoder_never_reports_an_unverified_support(n, t, seed):
    code = make_code(n, t)
    rng = np.random.default_rng(seed)
    # half random words (mostly undecodable), half true supports with a few parity flips
    B = 64
    bits = (rng.random((B, code.P)) < 0.5).astype(np.uint8)
    truth = []
    for i in range(B // 2):
        w = int(rng.integers(1, min(t, n) + 1))
        s = np.sort(rng.choice(n, size=w, replace=False))
        truth.append(s)
        word = np.asarray(encode_support(code, [tuple(int(v) for v in s)]))[0].astype(np.uint8)
        flips = rng.choice(code.P, size=int(rng.integers(0, t - w + 1)), replace=False)
        word[flips] ^= 1
        bits[i] = word
    support, n_flips, ok = (np.asarray(a) for a in decode_hard(code, bits))
    for i in range(B):
        if not ok[i]:
            continue
        s = tuple(int(v) for v in support[i] if v >= 0)
        assert all(0 <= v < n for v in s) and list(s) == sorted(set(s))
        re = np.asarray(encode_support(code, [s]))[0].astype(np.uint8) if s else np.zeros(code.P, np.uint8)
        dist = int(np.sum(re != bits[i]))
        assert dist == int(n_flips[i])
        assert len(s) + dist <= t  # inside the decoding radius: a verified answer
    for i, s in enumerate(truth):  # within the radius the true support is always found
        assert ok[i] and tuple(int(v) for v in support[i] if v >= 0) == tuple(int(v) for v in s)


@SETTINGS
@given(n=st.sampled_from([2, 37, 200]), t=st.integers(1, 3), seed=st.integers(0, 2**31 - 1), scale=st.floats(1e-3, 1e3))
def test_soft_decoder_on_noise_terminates_and_is_consistent(n, t, seed, scale):
    code = make_code(n, t)
    llr = np.random.default_rng(seed).normal(0.0, scale, size=(32, code.P))
    support, n_flips, ok = (np.asarray(a) for a in decode_soft(code, llr))
    assert support.shape == (32, t) and ok.dtype == bool
    for i in np.nonzero(ok)[0]:
        s = tuple(int(v) for v in support[i] if v >= 0)  # () is a valid answer: the zero word
        assert all(0 <= v < n for v in s)
        re = np.asarray(encode_support(code, [s]))[0].astype(np.uint8) if s else np.zeros(code.P, np.uint8)
        # Chase decoding may go beyond the hard radius t; what it reports must still be consistent
        assert int(np.sum(re != (llr[i] < 0))) == int(n_flips[i])
        assert int(n_flips[i]) <= t + min(t, 5)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.sampled_from([8, 50, 120]),
    terms=st.integers(0, 12),
    degree=st.integers(1, 3),
    seed=st.integers(0, 2**31 - 1),
    decoder=st.sampled_from(["hard", "soft"]),
)
def test_pipeline_noise_free_reports_only_true_terms(n, terms, degree, seed, decoder):
    rng = np.random.default_rng(seed)
    draws = [rng.choice(n, size=int(rng.integers(1, degree + 1)), replace=False) for _ in range(terms)]
    sup = sorted({tuple(sorted(d.tolist())) for d in draws})
    coef = rng.choice([-1.0, 1.0], size=len(sup)) * rng.uniform(0.5, 2.0, size=len(sup))
    f = SparseFourier(n, sup, coef)
    res = spexjax.spex(f, n, b=5, max_degree=degree, decoder=decoder, key=seed, refine=False)
    got, vals = res.fourier()
    assert set(got) <= set(sup)  # never a spurious term
    assert np.all(np.isfinite(vals))


@pytest.mark.parametrize("decoder", ["hard", "soft"])
def test_pipeline_on_pure_noise_terminates(decoder):
    rng = np.random.default_rng(0)
    res = spexjax.spex(lambda m: rng.standard_normal(len(m)), 64, b=5, max_degree=3, decoder=decoder, key=1)
    _, vals = res.fourier()
    assert np.all(np.isfinite(vals))
    assert res.meta["rounds"] <= 32
    assert len(res) <= 3 * 2**5
