"""Scaling-law constants pinned to the papers (equation and table named), and the anchors they must hit."""
from __future__ import annotations

import math

import pytest

from llmsize.design import scaling as s
from llmsize.errors import LlmsizeError

GOPHER_BUDGET = 576 * 10**21  # 5.76e23 FLOPs: Gopher's and Chinchilla's budget (Hoffmann et al. 2022, Table 3)


def test_chinchilla_approach3_constants_hoffmann2022_eq2_appendix_d2():
    # L(N, D) = E + A/N^alpha + B/D^beta, Hoffmann et al. 2022 sec. 3.3 eq. (2); fitted values Appendix D.2.
    f = s.CHINCHILLA
    assert (f.E, f.A, f.B, f.alpha, f.beta) == (1.69, 406.4, 410.7, 0.34, 0.28)


def test_besiroglu2024_refit_table1():
    f = s.BESIROGLU
    assert (f.E, f.A, f.B, f.alpha, f.beta) == (1.8172, 482.01, 2085.43, 0.3478, 0.3658)


def test_kaplan2020_constants_eq_1_1_to_1_3_table5_table6():
    k = s.KAPLAN
    assert (k.alpha_N, k.N_c) == (0.076, 8.8e13)  # eq. (1.1)
    assert (k.alpha_D, k.D_c) == (0.095, 5.4e13)  # eq. (1.2)
    assert (k.alpha_C, k.C_c) == (0.050, 3.1e8)  # eq. (1.3), C in PF-days
    assert (k.N_e, k.p_N, k.D_e, k.p_D) == (1.3e9, 0.73, 2e10, 0.27)  # Table 6 / Fig. 14
    assert s.PF_DAY == 8.64e19
    # N_opt(C_min = 1 PF-day) = N_e exactly
    assert s.kaplan_optimal(s.PF_DAY).params == 1_300_000_000


def test_rule_is_20_tokens_per_param_table3():
    assert s.CHINCHILLA_TOKENS_PER_PARAM == 20


def test_chinchilla_70b_and_1_4t_come_out_of_gophers_budget():
    a = s.chinchilla_rule(GOPHER_BUDGET)
    assert a.params == pytest.approx(70e9, rel=0.015)  # 69.28B
    assert a.tokens == pytest.approx(1.4e12, rel=0.015)  # 1.386T
    assert a.flops == GOPHER_BUDGET
    # and the other way: 70B on 1.4T costs ~ Gopher's budget under C = 6ND
    assert s.training_flops(70 * 10**9, 1_400 * 10**9) == pytest.approx(GOPHER_BUDGET, rel=0.025)


@pytest.mark.parametrize("params, flops, tokens", [  # Hoffmann et al. 2022, Table 3 (Approach 1)
    (400e6, 1.92e19, 8.0e9), (1e9, 1.21e20, 20.2e9), (10e9, 1.23e22, 205.1e9), (67e9, 5.76e23, 1.5e12),
    (175e9, 3.85e24, 3.7e12), (280e9, 9.90e24, 5.9e12), (520e9, 3.43e25, 11.0e12), (1e12, 1.27e26, 21.2e12),
])
def test_table3_rows_follow_c_6nd_and_about_20_tokens_per_param(params, flops, tokens):
    assert s.training_flops(int(params), int(tokens)) == pytest.approx(flops, rel=0.05)  # table rounds D
    assert 19.5 <= tokens / params <= 22.5
    rule = s.chinchilla_rule(int(flops))
    assert rule.params == pytest.approx(params, rel=0.06)


def test_frontier_eq4_exponents_and_closed_form():
    g, a, b = s._frontier(s.CHINCHILLA)
    assert a == pytest.approx(0.28 / 0.62) and b == pytest.approx(0.34 / 0.62)
    # Table 2 prints a = 0.46, b = 0.54 for Approach 3: the rounded constants give 0.452 / 0.548
    assert round(a, 2) == 0.45 and abs(a - 0.46) < 0.01
    # the refit's exponents agree with Approaches 1 and 2 (a ~ 0.5)
    assert s._frontier(s.BESIROGLU)[1] == pytest.approx(0.5126, abs=5e-4)
    alloc = s.chinchilla_frontier(GOPHER_BUDGET)
    # minimising L along C = 6ND numerically lands on the same N
    best = min((math.exp(x / 1000) for x in range(20_000, 28_000)),
               key=lambda n: s.chinchilla_loss(round(n), round(GOPHER_BUDGET / (6 * n))).total)
    assert alloc.params == pytest.approx(best, rel=0.002)
    assert 6 * alloc.params * alloc.tokens == pytest.approx(GOPHER_BUDGET, rel=1e-9)


def test_refit_puts_gophers_budget_at_chinchilla_scale():
    a = s.chinchilla_frontier(GOPHER_BUDGET, s.BESIROGLU)
    assert 60e9 < a.params < 80e9 and 15 < a.tokens_per_param < 25


def test_loss_terms_sum_and_values():
    loss = s.chinchilla_loss(70 * 10**9, 1_400 * 10**9)
    assert sum(v for _, v in loss.terms) == pytest.approx(loss.total)
    assert loss.terms[0][1] == 1.69
    assert loss.terms[1][1] == pytest.approx(406.4 / 70e9 ** 0.34)
    assert loss.total == pytest.approx(1.9366, abs=1e-4)


def test_kaplan_losses():
    k = s.KAPLAN
    assert s.kaplan_loss(10**9).total == pytest.approx((8.8e13 / 1e9) ** 0.076)
    assert s.kaplan_loss_data(10**11) == pytest.approx((5.4e13 / 1e11) ** 0.095)
    lnd = s.kaplan_loss(10**9, 10**11)
    assert lnd.total == pytest.approx(((8.8e13 / 1e9) ** (0.076 / 0.095) + 5.4e13 / 1e11) ** 0.095)
    # infinite data recovers L(N)
    assert s.kaplan_loss(10**9, 10**30).total == pytest.approx(s.kaplan_loss(10**9).total, rel=1e-9)
    assert s.kaplan_loss_compute(int(s.PF_DAY)) == pytest.approx(3.1e8 ** 0.05)
    assert k.p_N + k.p_D == pytest.approx(1.0)


def test_kaplan_prescribes_a_much_bigger_model_than_chinchilla():
    k, c = s.kaplan_optimal(GOPHER_BUDGET), s.chinchilla_rule(GOPHER_BUDGET)
    assert k.params > 10 * c.params and k.tokens_per_param < 1


def test_overtraining_llama31_8b_at_15t():
    from llmsize.load import load

    n = load("Llama-3.1-8B").spec
    from llmsize.params import count

    p = count(n).total
    assert p == 8_030_261_248
    o = s.overtraining(p, 15 * 10**12)
    assert o.tokens_per_param == pytest.approx(1867.9, abs=0.1)  # not 94: ~93x the 20 tokens/param rule
    assert o.times_rule == pytest.approx(93.4, abs=0.05)
    assert o.loss.total > o.same_compute_loss  # at equal compute, a bigger model would reach a lower loss
    assert o.extra_compute > 1  # reaching this loss Chinchilla-optimally needs less compute...
    assert o.same_loss.params > p  # ...but a bigger model, so each served token costs more
    assert 0 < o.inference_saving < 1


def test_sardana_inference_aware():
    none = s.inference_optimal(flops=GOPHER_BUDGET, inference_tokens=0)
    assert none.params == pytest.approx(none.chinchilla.params, rel=0.01)
    assert abs(none.saving) < 1e-3
    heavy = s.inference_optimal(flops=GOPHER_BUDGET, inference_tokens=10**14)
    assert heavy.params < none.params and heavy.tokens > none.tokens
    assert heavy.loss == pytest.approx(none.loss)
    assert s.chinchilla_loss(heavy.params, heavy.tokens).total == pytest.approx(heavy.loss, abs=1e-6)
    assert heavy.saving > 0.1


@pytest.mark.parametrize("call, needle", [
    (lambda: s.compute_for_loss(1.5), "irreducible"),
    (lambda: s.inference_optimal(inference_tokens=1, loss=1.6), "irreducible"),
    (lambda: s.inference_optimal(inference_tokens=1), "either"),
    (lambda: s.chinchilla_rule(0), "positive"),
    (lambda: s.chinchilla_loss(-1, 10), "positive"),
    (lambda: s.chinchilla_rule(100), "no model"),
])
def test_errors(call, needle):
    with pytest.raises(LlmsizeError, match=needle):
        call()
