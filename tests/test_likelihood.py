"""The marginal-likelihood core (issue "The half-sibling model", part 1).

Every fast-path number is compared against the dense O(N³) twins in
``tests/reference.py`` on seeded random problems with irregular sampling.
"""

from __future__ import annotations

import numpy as np
import pytest
from celerite2 import terms
from scipy import optimize, stats

import reference as ref
from halfsib._kernels import linalg as kl
from halfsib.exceptions import ConfigurationError, DataValidationError, NotPositiveDefiniteError
from halfsib.gp import KERNEL_KINDS, StellarKernel, factorize
from halfsib.likelihood import MarginalLikelihood, log_likelihood_or_neg_inf

RTOL = 1e-8

KERNELS = {
    "none": None,
    "sho": terms.SHOTerm(sigma=0.8, rho=2.0, Q=1 / np.sqrt(2)),
    "rotation": terms.RotationTerm(sigma=0.6, period=3.1, Q0=1.5, dQ=2.0, f=0.4),
    "matern32": terms.Matern32Term(sigma=0.5, rho=1.5),
}


def irregular_time(rng: np.random.Generator, n: int, baseline: float = 20.0) -> np.ndarray:
    """Sorted times with jitter and two data gaps (masked cadences)."""
    t = np.linspace(0, baseline, int(n * 1.3)) + rng.uniform(0, 0.2 * baseline / n, int(n * 1.3))
    t = np.sort(t)
    keep = np.ones(t.size, bool)
    keep[int(0.2 * t.size): int(0.3 * t.size)] = False
    keep[int(0.7 * t.size): int(0.75 * t.size)] = False
    keep[rng.choice(t.size, size=t.size // 20, replace=False)] = False
    return t[keep][:n]


def problem(rng: np.random.Generator, n: int = 150, m: int = 6, kernel: str = "sho") -> dict:
    t = irregular_time(rng, n)
    n = t.size
    return {"time": t, "y": rng.normal(0, 1.0, n), "diag": rng.uniform(0.05, 0.2, n),
            "design": rng.normal(size=(n, m)), "lam": rng.uniform(0.1, 2.0, m), "term": KERNELS[kernel]}


def build(p: dict, **kw) -> MarginalLikelihood:
    return MarginalLikelihood(p["time"], p["y"], p["diag"], p["design"], p["lam"], p["term"], **kw)


def dense_cov(p: dict) -> np.ndarray:
    return ref.dense_covariance(p["time"], p["diag"], p["term"], p["design"], p["lam"])


# ----------------------------------------------------------------------------- exact vs dense
@pytest.mark.parametrize("kernel", ["none", "sho", "rotation", "matern32"])
@pytest.mark.parametrize("m", [0, 1, 7, 40])
def test_log_likelihood_matches_dense(rng, kernel, m):
    p = problem(rng, n=140, m=m, kernel=kernel)
    got = build(p).log_likelihood()
    want = ref.dense_log_likelihood(p["y"], dense_cov(p))
    assert got == pytest.approx(want, rel=RTOL)


def test_more_columns_than_cadences(rng):
    p = problem(rng, n=80, m=300, kernel="sho")
    p["lam"] = rng.uniform(1e-3, 1e-2, 300)
    ml = build(p)
    assert ml.log_likelihood() == pytest.approx(ref.dense_log_likelihood(p["y"], dense_cov(p)), rel=RTOL)
    d = ref.dense_posterior(p["time"], p["y"], p["diag"], p["term"], p["design"], p["lam"])
    np.testing.assert_allclose(ml.predict().systematics, d["systematics"], rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("kernel", ["none", "sho", "rotation"])
def test_posterior_and_components_match_dense(rng, kernel):
    p = problem(rng, m=9, kernel=kernel)
    mean = 0.3 * np.sin(p["time"])
    ml = build(p, mean=mean)
    d = ref.dense_posterior(p["time"], p["y"], p["diag"], p["term"], p["design"], p["lam"], mean)
    post = ml.posterior_weights(covariance=True)
    np.testing.assert_allclose(post.mean, d["w_mean"], rtol=1e-8, atol=1e-11)
    np.testing.assert_allclose(post.covariance, d["w_cov"], rtol=1e-8, atol=1e-11)
    np.testing.assert_allclose(post.std, np.sqrt(np.diag(d["w_cov"])), rtol=1e-8)
    comp = ml.predict()
    for name in ("systematics", "stellar", "residual"):
        np.testing.assert_allclose(getattr(comp, name), d[name], rtol=1e-8, atol=1e-10, err_msg=name)
    np.testing.assert_allclose(ml.systematics_variance(), d["systematics_var"], rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(ml.residual_inverse(), d["alpha"], rtol=1e-8, atol=1e-10)


def test_components_add_up_to_y(rng):
    p = problem(rng, m=8, kernel="rotation")
    groups = {"elc": [0, 1, 2, 3], "pld": slice(4, 7), "cbv": np.arange(8) == 7}
    comp = build(p, groups=groups, mean=0.1).predict()
    total = comp.mean + comp.systematics + comp.stellar + comp.residual
    np.testing.assert_allclose(total, p["y"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(sum(comp.groups.values()), comp.systematics, atol=1e-12)
    assert set(comp.groups) == {"elc", "pld", "cbv"}


def test_apply_inverse_matches_dense(rng):
    p = problem(rng, m=5, kernel="sho")
    ml, cov = build(p), dense_cov(p)
    v = rng.normal(size=(p["time"].size, 3))
    np.testing.assert_allclose(ml.apply_inverse(v), np.linalg.solve(cov, v), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(ml.apply_inverse(v[:, 0]), np.linalg.solve(cov, v[:, 0]), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("m", [0, 5])
def test_inverse_block_matches_the_dense_inverse(rng, m):
    p = problem(rng, m=m, kernel="sho")
    ml, cov = build(p), dense_cov(p)
    rows = np.sort(rng.choice(p["time"].size, 40, replace=False))
    cols = rng.choice(p["time"].size, 7, replace=False)
    expected = np.linalg.inv(cov)[np.ix_(rows, cols)]
    np.testing.assert_allclose(ml.inverse_block(rows, cols, chunk=3), expected, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("kernel", ["none", "sho", "matern32"])
@pytest.mark.parametrize("m", [0, 4])
def test_heldout_residuals_match_the_dense_conditional(rng, kernel, m):
    p = problem(rng, m=m, kernel=kernel)
    ml, cov = build(p), dense_cov(p)
    n = p["time"].size
    blocks = [np.arange(0, 7), np.arange(40, 53), np.array([3 * n // 4]), np.arange(n - 5, n)]
    for fast, dense in zip(ml.heldout_residuals(blocks), ref.dense_heldout_residuals(p["y"], cov, blocks)):
        np.testing.assert_allclose(fast, dense, rtol=1e-7, atol=1e-9)
    residuals, systematics = ml.heldout_residuals(blocks, systematics=True)
    for fast, dense in zip(residuals, ref.dense_heldout_residuals(p["y"], cov, blocks)):
        np.testing.assert_allclose(fast, dense, rtol=1e-7, atol=1e-9)
    dense_sys = ref.dense_heldout_systematics(p["y"], cov, p["design"], p["lam"], blocks)
    for fast, dense in zip(systematics, dense_sys):
        np.testing.assert_allclose(fast, dense, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("kernel", ["none", "sho"])
def test_heldout_weights_give_every_part_of_the_dense_conditional(rng, kernel):
    """Each block's systematics (per column group) and stellar signal given the other cadences:
    (A Λ Aᵀ)_{s,−s} C_{−s,−s}⁻¹ r_{−s} per group and K_GP(s, −s) C_{−s,−s}⁻¹ r_{−s}."""
    p = problem(rng, m=6, kernel=kernel)
    ml, cov = build(p), dense_cov(p)
    n = p["time"].size
    gp = ref.dense_gp_covariance(p["time"], p["term"]) if kernel != "none" else np.zeros((n, n))
    blocks = [np.arange(0, 9), np.arange(60, 75), np.arange(n - 4, n)]
    for block, (e, w) in zip(blocks, ml.heldout_weights(blocks)):
        held = np.zeros(n, bool)
        held[block] = True
        alpha = np.linalg.solve(cov[np.ix_(~held, ~held)], p["y"][~held])
        for cols in (slice(0, 2), slice(2, 6)):
            a = p["design"][:, cols]
            dense = ((a * p["lam"][cols]) @ a.T)[np.ix_(held, ~held)] @ alpha
            np.testing.assert_allclose(p["design"][block][:, cols] @ w[cols], dense, rtol=1e-7, atol=1e-9)
        stellar = p["y"][block] - p["design"][block] @ w - e
        np.testing.assert_allclose(stellar, gp[np.ix_(held, ~held)] @ alpha, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("kernel", ["none", "sho", "rotation"])
def test_template_and_window_statistics_match_dense(rng, kernel):
    p = problem(rng, n=160, m=12, kernel=kernel)
    n = p["time"].size
    starts = np.concatenate([[0, n - 5, 3], rng.integers(0, n - 1, 40)])
    stops = np.minimum(starts + np.concatenate([[7, 5, 1], rng.integers(1, 25, 40)]), n)
    boxes = ref.box_templates(n, starts, stops)
    want_num, want_info = ref.dense_template_stats(dense_cov(p), p["y"], boxes)
    ml = build(p)
    for got in (ml.project(boxes), ml.window_projection(starts, stops)):
        np.testing.assert_allclose(got.numerator, want_num, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(got.information, want_info, rtol=1e-8)
    one = ml.project(boxes[:, 4])
    assert one.depth == pytest.approx(want_num[4] / want_info[4], rel=1e-8)
    assert one.delta_log_likelihood == pytest.approx(0.5 * want_num[4] ** 2 / want_info[4], rel=1e-8)
    assert one.depth_error == pytest.approx(want_info[4] ** -0.5, rel=1e-8)


def test_gradient_matches_finite_differences(rng):
    p = problem(rng, m=10, kernel="sho")
    labels = ["elc"] * 5 + ["pld"] * 3 + ["cbv"] * 2
    group_lam = {"elc": 0.7, "pld": 0.2, "cbv": 1.5}
    ml = build(p, groups=labels).with_prior_variance(group_lam)
    grad = ml.gradient_log_prior_variances()
    names = list(group_lam)

    def lnl(x):
        return ml.with_prior_variance(dict(zip(names, np.exp(x)))).log_likelihood()

    fd = ref.finite_difference_gradient(lnl, np.log([group_lam[k] for k in names]), step=1e-5)
    np.testing.assert_allclose([grad[k] for k in names], fd, rtol=1e-6, atol=1e-7)
    # per column, the analytic formula ½(a_jᵀC⁻¹r)² − ½ a_jᵀC⁻¹a_j from dense matrices
    cov_inv = np.linalg.inv(ref.dense_covariance(p["time"], p["diag"], p["term"], p["design"], ml.prior_variance))
    a, r = p["design"], p["y"]
    dense_col = ml.prior_variance * (0.5 * (a.T @ cov_inv @ r) ** 2 - 0.5 * np.einsum("ij,ik,kj->j", a, cov_inv, a))
    col = ml.gradient_log_prior_variances(groups=[f"c{j}" for j in range(10)])
    np.testing.assert_allclose(list(col.values()), dense_col, rtol=1e-8, atol=1e-10)


def test_gradient_with_flat_columns_elsewhere_matches_finite_differences(rng):
    """diag(S'⁻¹ c G c) = 1 − diag(S'⁻¹) on prior columns holds with flat columns in the system."""
    p = problem(rng, m=8, kernel="sho")
    labels = ["flat"] * 2 + ["elc"] * 4 + ["cbv"] * 2
    ml = build(p, groups=labels).with_prior_variance({"flat": np.inf, "elc": 0.4, "cbv": 2.0})
    col = ml._column_gradient()  # the public call refuses any grouping that has a flat column
    assert np.all(np.isnan(col[:2]))
    col = {"elc": col[2:6].sum(), "cbv": col[6:].sum()}

    def lnl(x):
        return ml.with_prior_variance({"flat": np.inf, "elc": float(np.exp(x[0])), "cbv": float(np.exp(x[1]))}
                                      ).log_likelihood()

    fd = ref.finite_difference_gradient(lnl, np.log([0.4, 2.0]), step=1e-5)
    np.testing.assert_allclose([col["elc"], col["cbv"]], fd, rtol=1e-6, atol=1e-7)


def test_zero_prior_variance_drops_column(rng):
    p = problem(rng, m=6, kernel="sho")
    p["lam"][[1, 4]] = 0.0
    ml = build(p)
    q = dict(p, design=p["design"][:, [0, 2, 3, 5]], lam=p["lam"][[0, 2, 3, 5]])
    assert ml.log_likelihood() == pytest.approx(build(q).log_likelihood(), rel=1e-12)
    post = ml.posterior_weights(covariance=True)
    assert post.mean[1] == post.std[4] == 0.0 and not post.covariance[1].any()
    grad = ml.gradient_log_prior_variances(groups=[str(j) for j in range(6)])
    assert grad["1"] == grad["4"] == 0.0
    assert build(dict(p, lam=np.zeros(6))).log_likelihood() == pytest.approx(
        build(dict(p, design=p["design"][:, :0], lam=np.zeros(0))).log_likelihood(), rel=1e-12)


def test_flat_prior_is_reml_limit(rng):
    p = problem(rng, m=6, kernel="sho")
    lam = p["lam"].copy()
    lam[:2] = np.inf
    ml = build(p).with_prior_variance(lam)
    cov_f = ref.dense_covariance(p["time"], p["diag"], p["term"], p["design"][:, 2:], lam[2:])
    want = ref.dense_flat_log_likelihood(p["y"], cov_f, p["design"][:, :2])
    assert ml.log_likelihood() == pytest.approx(want, rel=RTOL)
    big = lam.copy()
    big[:2] = 1e8
    limit = build(p).with_prior_variance(big).log_likelihood() + 0.5 * np.sum(np.log(big[:2]))
    assert limit == pytest.approx(ml.log_likelihood(), rel=1e-6)
    with pytest.raises(ConfigurationError, match="flat"):
        ml.gradient_log_prior_variances()
    # windows still agree with explicit templates under a flat prior
    n = p["time"].size
    starts, stops = np.array([0, 10, 50]), np.array([4, 30, n])
    a, b = ml.window_projection(starts, stops), ml.project(ref.box_templates(n, starts, stops))
    np.testing.assert_allclose(a.information, b.information, rtol=1e-8)


def test_with_prior_variance_and_mean_equal_fresh_build(rng):
    p = problem(rng, m=7, kernel="rotation")
    ml = build(p)
    lam2 = p["lam"] * 3.0
    assert ml.with_prior_variance(lam2).log_likelihood() == pytest.approx(
        build(dict(p, lam=lam2)).log_likelihood(), rel=1e-12)
    mean = np.linspace(-0.2, 0.2, p["time"].size)
    assert ml.with_mean(mean).log_likelihood() == pytest.approx(build(p, mean=mean).log_likelihood(), rel=1e-12)
    assert ml.log_likelihood() == pytest.approx(build(p).log_likelihood(), rel=0)  # original untouched


def test_jitter_adds_white_noise(rng):
    p = problem(rng, m=3, kernel="sho")
    with_jitter = build(p, jitter=0.3).log_likelihood()
    assert with_jitter == pytest.approx(build(dict(p, diag=p["diag"] + 0.09)).log_likelihood(), rel=1e-12)


# ----------------------------------------------------------------------------- gp.py
def test_stellar_kernel_parameter_vector(rng):
    t = irregular_time(rng, 300, baseline=30.0)
    y = rng.normal(0, 2.0, t.size)
    for kind in KERNEL_KINDS:
        k = StellarKernel(kind)
        p0, bounds = k.initial_parameters(t, y, 0.1), k.bounds(t, y, 0.1)
        assert p0.shape == (k.n_parameters,) and bounds.shape == (k.n_parameters, 2)
        assert np.all((bounds[:, 0] <= p0) & (p0 <= bounds[:, 1])), kind
        assert np.allclose(k.pack(**k.unpack(p0)), p0)
        assert k.parameter_names[-1] == "ln_jitter" and k.jitter(p0) > 0
        ml = MarginalLikelihood.from_stellar_kernel(k, p0, t, y, 0.1)
        assert np.isfinite(ml.log_likelihood())
    assert StellarKernel("sho", fit_quality=True, fit_jitter=False).parameter_names == ("ln_sigma", "ln_rho", "ln_Q")
    assert StellarKernel("none", fit_jitter=False).term(np.zeros(0)) is None
    with pytest.raises(ConfigurationError, match="kind"):
        StellarKernel("celerite")
    with pytest.raises(DataValidationError, match="params"):
        StellarKernel("sho").unpack([0.0])


@pytest.mark.parametrize("kernel", ["sho", "rotation", "none"])
def test_factor_matches_dense(rng, kernel):
    t = irregular_time(rng, 90)
    var = rng.uniform(0.05, 0.2, t.size)
    term = KERNELS[kernel]
    fac = factorize(t, var, term)
    kmat = ref.dense_gp_covariance(t, term) + np.diag(var)
    tt, c, u, w, d = fac.semiseparable()
    decay = np.exp(-c * (tt[:, None, None] - tt[None, :, None]))
    low = np.eye(t.size) + np.tril(np.einsum("nj,mj,nmj->nm", u, w, decay), -1)
    np.testing.assert_allclose(low @ np.diag(d) @ low.T, kmat, rtol=1e-10, atol=1e-12)
    assert fac.log_det == pytest.approx(np.linalg.slogdet(kmat)[1], rel=1e-10)
    v = rng.normal(size=t.size)
    np.testing.assert_allclose(fac.dot_gp(v), ref.dense_gp_covariance(t, term) @ v, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fac.dot_tril(v), low @ (np.sqrt(d) * v), rtol=1e-10, atol=1e-12)
    a = rng.normal(size=(t.size, 7))
    kinv_a, gram = fac.solve_and_gram(a)
    dense = np.linalg.solve(kmat, a)
    np.testing.assert_allclose(kinv_a, dense, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(gram, a.T @ dense, rtol=1e-9, atol=1e-12)
    assert np.array_equal(gram, gram.T)
    assert fac.solve_and_gram(a[:, :0])[1].shape == (0, 0)


def test_window_kernel_status_and_dense_twin(rng):
    t = irregular_time(rng, 70)
    var = rng.uniform(0.05, 0.2, t.size)
    term = KERNELS["rotation"]
    args = factorize(t, var, term).semiseparable()
    q = np.empty((t.size + 1, args[1].size, args[1].size))
    assert kl.celerite_tail_matrices(*args, q) == kl.STATUS_OK
    s, e = np.array([0, 5, 69]), np.array([70, 6, 70])
    out = np.empty(3)
    assert kl.celerite_window_quadratic(*args, q, s, e, out) == kl.STATUS_OK
    kmat = ref.dense_gp_covariance(t, term) + np.diag(var)
    np.testing.assert_allclose(out, ref.dense_window_kinv(kmat, s, e), rtol=1e-10)
    assert kl.celerite_window_quadratic(*args, q, np.array([5]), np.array([5]), out[:1]) == kl.STATUS_BAD_WINDOW
    assert kl.celerite_window_quadratic(*args, q, s, e, out[:2]) == kl.STATUS_BAD_SHAPE
    pa, pf = np.zeros(71), np.zeros((71, 2))
    assert kl.window_low_rank(pa, pf, np.array([0]), np.array([71]), out[:1], out[1:2]) == kl.STATUS_BAD_WINDOW


# ----------------------------------------------------------------------------- error paths
@pytest.mark.parametrize("field, value, match", [
    ("y", "nan", "y has 1 non-finite"),
    ("diag", "nan", "diag_variance"),
    ("diag", "zero", "diag_variance must be > 0"),
    ("design", "nan", "design has 1 non-finite"),
    ("time", "unsorted", "sorted"),
    ("y", "short", r"y has shape \(149,\)"),
    ("design", "short", "design has shape"),
    ("lam", "short", "prior_variance has shape"),
    ("lam", "negative", "prior_variance must be >= 0"),
])
def test_bad_inputs_raise_data_validation_error(rng, field, value, match):
    p = problem(rng, m=4, kernel="sho")
    arr = np.array(p[field], dtype=float)
    if value == "nan":
        arr.flat[3] = np.nan
    elif value == "zero":
        arr[2] = 0.0
    elif value == "unsorted":
        arr[[5, 6]] = arr[[6, 5]]
    elif value == "short":
        arr = arr[:-1]
    elif value == "negative":
        arr[0] = -1.0
    p[field] = arr
    with pytest.raises(DataValidationError, match=match):
        build(p)


def test_bad_call_arguments(rng):
    p = problem(rng, m=4, kernel="sho")
    ml = build(p)
    with pytest.raises(DataValidationError, match=r"templates has shape \(3,\)"):
        ml.project(np.ones(3))
    with pytest.raises(DataValidationError, match="v has .* non-finite"):
        ml.apply_inverse(np.full(p["time"].size, np.inf))
    with pytest.raises(DataValidationError, match="windows"):
        ml.window_projection([3], [3])
    with pytest.raises(ConfigurationError, match="exactly one group"):
        build(p, groups={"a": [0, 1], "b": [1, 2, 3]})
    with pytest.raises(ConfigurationError, match="prior_variance is required"):
        MarginalLikelihood(p["time"], p["y"], p["diag"], p["design"])
    with pytest.raises(ConfigurationError, match="keys"):
        ml.with_prior_variance({"wrong": 1.0})


def test_singular_and_not_positive_definite(rng):
    p = problem(rng, m=4, kernel="none")
    p["design"][:, 3] = 2.0 * p["design"][:, 1]
    p["lam"][[1, 3]] = np.inf
    with pytest.raises(NotPositiveDefiniteError, match="linearly dependent"):
        build(p)
    q = problem(rng, m=2, kernel="none")
    q["design"][:, 0] = 0.0
    q["lam"][0] = np.inf
    with pytest.raises(NotPositiveDefiniteError, match="no information"):
        build(q)
    negative = terms.RealTerm(a=-1.0, c=1.0)
    with pytest.raises(NotPositiveDefiniteError, match="celerite2 could not factorise"):
        build(dict(q, term=negative, lam=np.ones(2)))

    class Broken:  # duck-typed StellarKernel whose term is not positive definite
        def term(self, params):
            return negative

        def jitter(self, params):
            return 0.0

    assert log_likelihood_or_neg_inf(Broken(), [], q["time"], q["y"], q["diag"]) == -np.inf
    good = StellarKernel("sho")
    p0 = good.initial_parameters(q["time"], q["y"], q["diag"])
    assert np.isfinite(log_likelihood_or_neg_inf(good, p0, q["time"], q["y"], q["diag"]))


# ----------------------------------------------------------------------------- truth test
def test_simulation_recovers_systematics_and_prior_scale():
    rng = np.random.default_rng(42)
    n, m = 1500, 40
    t = np.sort(rng.uniform(0, 30, n))
    # smooth shared "instrument" columns: random walks, standardised
    design = np.cumsum(rng.normal(size=(n, m)), axis=0)
    design = (design - design.mean(0)) / design.std(0)
    true_scale = 0.05
    w = rng.normal(0, np.sqrt(true_scale), m)
    term = terms.SHOTerm(sigma=0.02, rho=3.0, Q=1 / np.sqrt(2))
    gp_draw = factorize(t, np.full(n, 1e-12), term).dot_tril(rng.normal(size=n))
    err2 = np.full(n, 0.01**2)
    y = design @ w + gp_draw + rng.normal(0, 0.01, n)
    ml = MarginalLikelihood(t, y, err2, design, true_scale, term)

    post = ml.posterior_weights(covariance=True)
    delta = w - post.mean
    chi2 = float(delta @ np.linalg.solve(post.covariance, delta))
    assert stats.chi2(m).ppf(0.001) < chi2 < stats.chi2(m).ppf(0.999)
    # per cadence: A ŵ recovers A w within its posterior uncertainty (z-scores are strongly
    # correlated along the cadences, so only loose bounds on their spread are meaningful)
    err = design @ w - ml.predict().systematics
    z = err / np.sqrt(ml.systematics_variance())
    assert 0.2 < np.mean(z**2) < 4.0 and np.mean(np.abs(z) < 3.0) > 0.9
    assert np.std(err) < 0.03 * np.std(design @ w)

    def score(ln_scale):
        return ml.with_prior_variance(np.exp(ln_scale)).gradient_log_prior_variances()["design"]

    best = optimize.brentq(score, np.log(true_scale) - 5, np.log(true_scale) + 5)
    assert abs(best - np.log(true_scale)) < 0.8  # sd of ln λ̂ from 40 weights ≈ 0.22
    grid = np.log(true_scale) + np.linspace(-1, 1, 5)
    values = [ml.with_prior_variance(np.exp(g)).log_likelihood() for g in grid]
    assert ml.with_prior_variance(np.exp(best)).log_likelihood() >= max(values) - 1e-9
