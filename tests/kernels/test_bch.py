"""BCH kernels against a plain-Python bounded-distance decoder (and galois / sparse_transform when present)."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from spexjax.kernels import bch, gf2m

# ----------------------------------------------------------------------------- plain-Python reference


class PyField:
    """GF(2^m) from scratch: alpha = x, one multiply-by-x per power."""

    def __init__(self, m: int):
        self.m, self.N = m, (1 << m) - 1
        poly = gf2m.PRIMITIVE_POLYS[m]
        self.exp, x = [], 1
        for _ in range(self.N):
            self.exp.append(x)
            x <<= 1
            if x >> m:
                x ^= poly
        self.log = {v: k for k, v in enumerate(self.exp)}

    def mul(self, a: int, b: int) -> int:
        return 0 if a == 0 or b == 0 else self.exp[(self.log[a] + self.log[b]) % self.N]

    def inv(self, a: int) -> int:
        return self.exp[(-self.log[a]) % self.N]

    def apow(self, k: int) -> int:
        return self.exp[k % self.N]


def py_syndromes(F: PyField, bits, t: int) -> list[int]:
    S = []
    for i in range(1, 2 * t + 1):
        s = 0
        for p, bit in enumerate(bits):
            if bit:
                s ^= F.apow(i * p)
        S.append(s)
    return S


def py_bm(F: PyField, S: list[int]) -> tuple[list[int], int]:
    """Textbook Berlekamp-Massey (Massey 1969)."""
    C, B, L, shift, b = [1], [1], 0, 1, 1
    for r in range(len(S)):
        d = S[r]
        for i in range(1, L + 1):
            if i < len(C):
                d ^= F.mul(C[i], S[r - i])
        if d == 0:
            shift += 1
            continue
        coef = F.mul(d, F.inv(b))
        T = list(C)
        C = C + [0] * max(0, len(B) + shift - len(C))
        for i, bi in enumerate(B):
            C[i + shift] ^= F.mul(coef, bi)
        if 2 * L <= r:
            L, B, b, shift = r + 1 - L, T, d, 1
        else:
            shift += 1
    while len(C) > 1 and C[-1] == 0:
        C.pop()
    return C, L


def py_decode(F: PyField, bits, t: int, P: int, n: int):
    """Bounded-distance decode; returns sorted error positions or None on failure."""
    S = py_syndromes(F, bits, t)
    C, L = py_bm(F, S)
    if L > t:
        return None
    roots = []
    for pos in range(P + n):
        v = 0
        for j, c in enumerate(C):
            if c:
                v ^= F.mul(c, F.apow(-j * pos))
        if v == 0:
            roots.append(pos)
    return roots if len(roots) == L else None


def random_errors(rng, code, B, wmin, wmax, flip_max=None):
    """Supports (features) and parity flips with total weight in [wmin, wmax]."""
    sup = np.full((B, wmax), -1)
    flips = np.zeros((B, code.P), np.uint8)
    for b in range(B):
        w = int(rng.integers(wmin, wmax + 1))
        nf = int(rng.integers(0, min(w, code.P if flip_max is None else flip_max) + 1))
        nf = min(nf, w)
        k = rng.choice(code.n, min(w - nf, code.n), replace=False)
        sup[b, : len(k)] = np.sort(k)
        flips[b, rng.choice(code.P, w - len(k), replace=False)] = 1
    return sup, flips


def as_sets(support):
    return [tuple(int(v) for v in row if v >= 0) for row in np.asarray(support)]


# ------------------------------------------------------------------------------------- construction

# (n, t) -> (m, P); P agrees with sparse_transform's BCH.parameter_search (nc - kc) for all of these.
KNOWN = {
    (1, 1): (2, 2),
    (10, 1): (4, 4),
    (26, 1): (5, 5),
    (20, 2): (5, 10),
    (31, 2): (6, 12),
    (50, 3): (7, 21),
    (100, 4): (8, 32),
    (250, 5): (9, 45),
    (300, 10): (9, 90),
    (500, 2): (10, 20),
    (1000, 6): (11, 66),
    (2000, 4): (11, 44),
    (2000, 8): (12, 96),
}


@pytest.mark.parametrize(("n", "t"), sorted(KNOWN))
def test_known_parameters(n, t):
    code = bch.make_code(n, t)
    assert (code.m, code.P) == KNOWN[(n, t)]
    assert code.N - code.P >= n
    m0 = max(2, int(np.ceil(np.log2(2 * t + 2))))
    for m in range(m0, code.m):  # the smallest field that fits
        assert (1 << m) - 1 - bch.parity_length(m, t) < n


def test_make_code_errors_and_cache():
    assert bch.make_code(40, 3) is bch.make_code(40, 3)
    for n, t in [(0, 2), (10, 0), (2.5, 1), (1 << 24, 1), (10, bch.T_MAX + 1)]:
        with pytest.raises(ValueError):
            bch.make_code(n, t)
    code = bch.make_code(40, 3)
    with pytest.raises(ValueError):
        code.delay_columns([40])
    with pytest.raises(ValueError):
        bch.decode_hard(code, np.zeros((3, code.P + 1), np.uint8))
    with pytest.raises(ValueError):
        bch.decode_hard(code, np.zeros((3, code.P), np.uint8), root_finder="bogus")
    with pytest.raises(ValueError):
        bch.decode_soft(code, np.zeros((3, code.P)), depth=13)
    big_t = bch.make_code(40, bch.ALGEBRAIC_MAX_T + 1)
    with pytest.raises(ValueError):
        bch.decode_hard(big_t, np.zeros((1, big_t.P), np.uint8), root_finder="algebraic")


@pytest.mark.parametrize(("n", "t"), [(20, 2), (40, 3), (100, 4)])
def test_dense_codewords_and_left_inverse(n, t):
    code = bch.make_code(n, t)
    P, N, m = code.P, code.N, code.m
    np.testing.assert_array_equal((code.W.astype(int) @ code.H_par) % 2, np.eye(P, dtype=int))
    F = PyField(m)
    D = code.delay_matrix()
    assert D.shape == (P, n) and D.dtype == bool
    # full syndrome matrix for i = 1..2t over all positions of the shortened code
    H = np.array([[F.apow(i * pos) for pos in range(P + n)] for i in range(1, 2 * t + 1)])
    rng = np.random.default_rng(n)
    msgs = np.concatenate([np.eye(n, dtype=np.uint8), rng.integers(0, 2, (20, n), dtype=np.uint8)])
    for msg in msgs:
        word = np.concatenate([(D.astype(int) @ msg) % 2, msg])
        syn = np.bitwise_xor.reduce(np.where(word[None, :] == 1, H, 0), axis=1)
        assert not syn.any()
    assert N - P >= n
    # arbitrary index order, repeats, and encode_support
    idx = rng.integers(0, n, 50)
    np.testing.assert_array_equal(code.delay_columns(idx), D[:, idx].T)
    sup = np.array([[3, 1, -1], [-1, -1, -1], [0, 1, 2]])
    enc = bch.encode_support(code, sup)
    np.testing.assert_array_equal(enc[0], D[:, 3] ^ D[:, 1])
    np.testing.assert_array_equal(enc[1], 0)
    np.testing.assert_array_equal(enc[2], D[:, 0] ^ D[:, 1] ^ D[:, 2])


# ------------------------------------------------------------------------------------------ decoding


@pytest.mark.parametrize(("n", "t"), [(40, 3), (200, 2)])
def test_syndromes_bm_and_decode_vs_reference(n, t):
    code = bch.make_code(n, t)
    F = PyField(code.m)
    rng = np.random.default_rng(7 * n + t)
    B = 64
    sup, flips = random_errors(rng, code, B, 0, t)
    bits = bch.encode_support(code, sup) ^ flips
    S = np.asarray(bch.syndromes(code, bits))
    Lam, L = (np.asarray(v) for v in bch.berlekamp_massey(code, S))  # binary (t-step) variant
    Lam2, L2 = (np.asarray(v) for v in bch.berlekamp_massey(code, S, binary=False))
    np.testing.assert_array_equal(Lam, Lam2)
    np.testing.assert_array_equal(L, L2)
    assert S.shape == (B, 2 * t) and Lam.shape == (B, t + 1)
    for b in range(B):
        assert list(S[b]) == py_syndromes(F, bits[b], t)
        C, Lr = py_bm(F, list(S[b]))
        assert L[b] == Lr and list(Lam[b][: len(C)]) == C and not Lam[b][len(C) :].any()
    want_sup = as_sets(sup)
    for rf in ("chien", "algebraic"):
        s, nf, ok = (np.asarray(v) for v in bch.decode_hard(code, bits, root_finder=rf))
        assert s.shape == (B, t) and s.dtype == np.int32 and ok.all()
        assert as_sets(s) == want_sup
        np.testing.assert_array_equal(nf, flips.sum(1))


@pytest.mark.parametrize(("n", "t"), [(40, 3), (12, 2)])
def test_beyond_t_agrees_with_reference(n, t):
    """More than t errors: the batched decoder is exactly the bounded-distance reference (it fails where the
    reference fails, and miscorrects where the reference miscorrects); whatever it accepts is consistent:
    re-encoding the support and applying the flips gives back the received bits, with weight <= t."""
    code = bch.make_code(n, t)
    F = PyField(code.m)
    rng = np.random.default_rng(11 + n)
    B = 96
    sup, flips = random_errors(rng, code, B, t + 1, 2 * t + 2)
    bits = bch.encode_support(code, sup) ^ flips
    ref = [py_decode(F, list(row), t, code.P, n) for row in bits]
    for rf in ("chien", "algebraic"):
        s, nf, ok = (np.asarray(v) for v in bch.decode_hard(code, bits, root_finder=rf))
        for b in range(B):
            assert ok[b] == (ref[b] is not None), (rf, b)
            if ok[b]:
                assert list(s[b][s[b] >= 0]) == [p - code.P for p in ref[b] if p >= code.P]
                assert nf[b] == sum(p < code.P for p in ref[b])
                assert (s[b] >= 0).sum() + nf[b] <= t
                reenc = bch.encode_support(code, s[b : b + 1])[0]
                assert int((reenc ^ bits[b]).sum()) == nf[b]
            else:
                assert (s[b] == -1).all() and nf[b] == 0
    assert 0 < sum(r is None for r in ref)  # the sample does exercise failures


def test_x64_mode_and_empty_batch():
    """Callers may run inside ``jax.enable_x64``: outputs keep their int32/bool dtypes and values."""
    code = bch.make_code(40, 3)
    sup = np.array([[1, 5, 30], [0, -1, -1]])
    bits = bch.encode_support(code, sup)
    with jax.enable_x64(True):
        s, nf, ok = bch.decode_hard(code, bits, root_finder="algebraic")
    assert (s.dtype, nf.dtype, ok.dtype) == (np.int32, np.int32, np.bool_)
    np.testing.assert_array_equal(np.asarray(s), sup)
    assert np.asarray(ok).all()
    empty = bch.decode_hard(code, np.zeros((0, code.P), np.uint8), root_finder="algebraic")
    assert [v.shape for v in empty] == [(0, 3), (0,), (0,)]


@pytest.mark.parametrize("m", [10, 13, 16])
def test_algebraic_roots_equal_chien(m):
    t = 3
    n = 1 << (m - 1)  # forces field degree m; positions >= P+n exist and must be rejected
    code = bch.make_code(n, t)
    assert code.m == m
    f = code.field
    rng = np.random.default_rng(m)
    B = 48
    Lam = np.zeros((B, t + 1), np.int64)
    Lam[:, 0] = 1
    for b in range(B):
        if b % 3 == 2:  # random locator, usually not split
            Lam[b, 1:] = rng.integers(0, 1 << m, t)
            continue
        w = int(rng.integers(0, t + 1))
        poly = [1]
        for pos in rng.choice(code.N, w, replace=False):  # prod (1 - X x)
            X = int(f.exp[pos])
            poly = [a ^ (int(gf2m.mul(f, X, poly[i - 1])) if i > 0 else 0) for i, a in enumerate(poly + [0])]
        Lam[b, : len(poly)] = poly
    pc, cc = (np.asarray(v) for v in bch.find_roots(code, Lam, "chien"))
    pa, ca = (np.asarray(v) for v in bch.find_roots(code, Lam, "algebraic"))
    np.testing.assert_array_equal(cc, ca)
    np.testing.assert_array_equal(pc, pa)
    assert (ca > 0).sum() > B // 3


@pytest.mark.parametrize(("n", "t"), [(10**6, 5), (10**7, 4)])
def test_large_n_algebraic(n, t):
    code = bch.make_code(n, t)
    assert code.m == (20 if n == 10**6 else 24)
    rng = np.random.default_rng(n)
    B = 256
    sup, flips = random_errors(rng, code, B, 0, t, flip_max=1)
    bits = bch.encode_support(code, sup) ^ flips
    s, nf, ok = (np.asarray(v) for v in bch.decode_hard(code, bits))  # auto -> algebraic
    assert ok.all()
    assert as_sets(s) == as_sets(sup)
    np.testing.assert_array_equal(nf, flips.sum(1))
    if n == 10**6:  # Chien over all 10^6 positions on a few rows agrees
        s2, nf2, ok2 = (np.asarray(v) for v in bch.decode_hard(code, bits[:4], root_finder="chien"))
        np.testing.assert_array_equal(s2, s[:4])
        np.testing.assert_array_equal(ok2, ok[:4])


def test_soft_decoding():
    # P = 32 parity bits for n = 100: as in SPEX's regime (few message words per parity pattern), a trial
    # word rarely decodes to a wrong codeword, so the parity-only Chase metric finds the truth.
    n, t = 100, 4
    code = bch.make_code(n, t)
    rng = np.random.default_rng(3)
    B = 128
    # exact LLRs of a clean word: soft == hard == truth
    sup, _ = random_errors(rng, code, B, 0, t, flip_max=0)
    clean = bch.encode_support(code, sup)
    soft = [np.asarray(v) for v in bch.decode_soft(code, (1.0 - 2.0 * clean) * 4.0)]
    assert soft[2].all() and as_sets(soft[0]) == as_sets(sup) and not soft[1].any()
    # noisy within t: with prefer_hard the hard answer is kept
    sup, flips = random_errors(rng, code, B, 0, t)
    bits = bch.encode_support(code, sup) ^ flips
    llr = (1.0 - 2.0 * bits) * rng.uniform(0.1, 3.0, bits.shape)
    hard = [np.asarray(v) for v in bch.decode_hard(code, bits)]
    soft = [np.asarray(v) for v in bch.decode_soft(code, llr, prefer_hard=True)]
    for h, s in zip(hard, soft, strict=True):
        np.testing.assert_array_equal(h, s)
    # weight-t support plus two low-reliability parity flips: beyond hard decoding, within Chase's reach
    sup = np.stack([np.sort(rng.choice(n, t, replace=False)) for _ in range(B)])
    clean = bch.encode_support(code, sup)
    rel = rng.uniform(1.0, 3.0, (B, code.P))
    noisy = clean.copy()
    for b in range(B):
        p = rng.choice(code.P, 2, replace=False)
        noisy[b, p] ^= 1
        rel[b, p] = rng.uniform(0.05, 0.5, 2)
    llr = (1.0 - 2.0 * noisy) * rel
    hs, _, hok = (np.asarray(v) for v in bch.decode_hard(code, noisy))
    ss, snf, sok = (np.asarray(v) for v in bch.decode_soft(code, llr))
    truth = as_sets(sup)
    hard_rate = np.mean([ok and a == b for ok, a, b in zip(hok, as_sets(hs), truth, strict=True)])
    soft_rate = np.mean([ok and a == b for ok, a, b in zip(sok, as_sets(ss), truth, strict=True)])
    assert hard_rate == 0.0  # t + 2 errors: hard decoding never returns the truth
    assert soft_rate >= 0.9, soft_rate
    assert (snf[sok] <= 2 + t).all()


@pytest.mark.slow
def test_jit_matches_eager():
    # soft with B=2 and 4 trial words reuses the eager op shapes of the B=8 hard decode
    code = bch.make_code(30, 2)
    rng = np.random.default_rng(5)
    sup, flips = random_errors(rng, code, 8, 0, 4)
    bits = bch.encode_support(code, sup) ^ flips
    llr = (1.0 - 2.0 * bits[:2]) * rng.uniform(0.1, 2.0, bits[:2].shape)
    calls = [
        lambda: bch.decode_hard(code, bits, root_finder="algebraic"),
        lambda: bch.decode_soft(code, llr, depth=2, root_finder="algebraic"),
        lambda: bch.decode_hard(code, bits, root_finder="chien"),
    ]
    for call in calls:
        jitted = [np.asarray(v) for v in call()]
        with jax.disable_jit():
            eager = [np.asarray(v) for v in call()]
        for a, b in zip(jitted, eager, strict=True):
            np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------------- galois / sparse_transform

@pytest.mark.slow
@pytest.mark.parametrize(("n", "t"), [(20, 2), (100, 4), (2000, 4)])
def test_against_galois(n, t):
    galois = pytest.importorskip("galois")
    code = bch.make_code(n, t)
    g = galois.BCH(code.N, d=2 * t + 1)
    assert g.n - g.k == code.P
    if code.m > 2 and code.m - 1 >= np.log2(2 * t + 2):
        assert galois.BCH((1 << (code.m - 1)) - 1, d=2 * t + 1).k < n  # the smaller field does not fit
    # our codewords (position = polynomial degree) are galois codewords (vector index = N-1-degree)
    rng = np.random.default_rng(n)
    idx = np.concatenate([rng.choice(n, min(n, 40), replace=False), [0, n - 1]])
    words = np.zeros((len(idx), code.N), np.uint8)
    words[:, : code.P] = code.delay_columns(idx)
    words[np.arange(len(idx)), code.P + idx] = 1
    assert not np.any(g.detect(galois.GF2(words[:, ::-1])))
    try:
        from sparse_transform.qsft.codes.BCH import BCH as RefBCH
    except ImportError:
        return
    if n <= 100:  # its delay matrix is ours with both axes reversed (after its leading zero row)
        D = np.asarray(RefBCH(n, t).get_delay_matrix(), dtype=np.uint8)
        np.testing.assert_array_equal(D[1:][::-1, ::-1], code.delay_matrix().astype(np.uint8))
