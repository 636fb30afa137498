"""Scaling laws: compute-optimal parameters and tokens, predicted loss, and the cost of over-training.

Hoffmann et al. 2022 (Chinchilla) is the default: the ~20 tokens/parameter rule (Approach 1, Table 3)
and the fitted loss L(N, D) = E + A/N^α + B/D^β (Approach 3: eq. 2, fitted values in Appendix D.2)
with its closed-form frontier (eq. 4). Kaplan et al. 2020 is shown for comparison. Sardana et al.
2023 adds inference: the cheapest model to reach a loss when it will also serve D_inf tokens.

Chinchilla's N counts every parameter; Kaplan's N excludes embeddings (Pearce & Song 2024 trace
much of the two papers' disagreement to this). The two losses are on different data and tokenizers
(MassiveText vs WebText2) and are not comparable with each other or with any other model's loss.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from llmsize.errors import LlmsizeError

PF_DAY = 10**15 * 86_400  # FLOPs in one petaflop/s-day (Kaplan et al.'s compute unit)
CHINCHILLA_TOKENS_PER_PARAM = 20  # Hoffmann et al. 2022, Table 3 (Approach 1): ~20 tokens per parameter


@dataclass(frozen=True, slots=True, kw_only=True)
class ChinchillaFit:
    """The parametric loss of Hoffmann et al. 2022: L(N, D) = E + A/N^α + B/D^β (N all parameters)."""

    E: float
    A: float
    B: float
    alpha: float
    beta: float
    where: str

    def __post_init__(self) -> None:
        if min(self.E, self.A, self.B, self.alpha, self.beta) <= 0:
            raise LlmsizeError("scaling: loss-fit constants must be positive")


# Hoffmann et al. 2022, sec. 3.3 eq. (2); values as printed in Appendix D.2 (eq. 10).
CHINCHILLA = ChinchillaFit(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28,
                           where="Hoffmann et al. 2022, Approach 3: eq. (2), fitted values Appendix D.2 (eq. 10)")
# Besiroglu et al. 2024, Table 1: Approach 3 refitted to the paper's own (digitised) runs; its exponents
# give a = 0.51, in line with Approaches 1 and 2, where the printed constants give a = 0.45.
BESIROGLU = ChinchillaFit(E=1.8172, A=482.01, B=2085.43, alpha=0.3478, beta=0.3658,
                          where="Besiroglu et al. 2024, Table 1 (refit of Chinchilla Approach 3)")
FITS = {"hoffmann2022": CHINCHILLA, "besiroglu2024": BESIROGLU}


@dataclass(frozen=True, slots=True, kw_only=True)
class KaplanFit:
    """Kaplan et al. 2020 power laws (N non-embedding parameters, D tokens, C_min in PF-days)."""

    alpha_N: float = 0.076  # eq. (1.1), Table 5
    N_c: float = 8.8e13
    alpha_D: float = 0.095  # eq. (1.2), Table 5
    D_c: float = 5.4e13
    alpha_C: float = 0.050  # eq. (1.3): α_C^min
    C_c: float = 3.1e8  # C_c^min, PF-days
    p_N: float = 0.73  # Table 6 / Fig. 14: N_opt = N_e · C_min^p_N
    N_e: float = 1.3e9
    p_D: float = 0.27  # Table 6: D_opt = D_e · C_min^p_D
    D_e: float = 2e10


KAPLAN = KaplanFit()


@dataclass(frozen=True, slots=True, kw_only=True)
class Allocation:
    """A (parameters, tokens) split of a compute budget, by one named method."""

    method: str
    params: int
    tokens: int
    flops: int
    formula: str
    source: str
    note: str = ""

    def __post_init__(self) -> None:
        if self.params <= 0 or self.tokens <= 0:
            raise LlmsizeError(f"scaling: {self.method} gives no model for this budget")

    @property
    def tokens_per_param(self) -> float:
        return self.tokens / self.params


@dataclass(frozen=True, slots=True, kw_only=True)
class Loss:
    """A predicted loss (nats/token) as named terms that sum to `total`."""

    law: str
    total: float
    terms: tuple[tuple[str, float], ...]
    formula: str
    source: str
    params_counted: str  # "all parameters" or "non-embedding parameters"


def _pos(**v: float) -> None:
    for k, x in v.items():
        if not (isinstance(x, (int, float)) and math.isfinite(x) and x > 0):
            raise LlmsizeError(f"scaling: {k} must be a positive finite number, got {x!r}")


def training_flops(params: int, tokens: int) -> int:
    """Training compute of a dense model.

    # C = 6·N·D   (2 forward + 4 backward FLOPs per parameter per token)

    Source: kaplan2020-laws"""
    _pos(params=params, tokens=tokens)
    return 6 * int(params) * int(tokens)


def chinchilla_rule(flops: int) -> Allocation:
    """The rule users quote: D = 20·N, so C = 6·N·20N.

    # N = sqrt(C / (6·20)),  D = 20·N

    Source: hoffmann2022"""
    _pos(flops=flops)
    n = math.isqrt(int(flops) // (6 * CHINCHILLA_TOKENS_PER_PARAM))
    return Allocation(method="Chinchilla 20 tokens/param", params=n, tokens=CHINCHILLA_TOKENS_PER_PARAM * n,
                      flops=int(flops), formula="N = sqrt(C/120), D = 20·N", source="hoffmann2022",
                      note="Approach 1 (Table 3) gives ~20 tokens per parameter across sizes")


def _frontier(fit: ChinchillaFit) -> tuple[float, float, float]:
    # G = (αA / βB)^(1/(α+β)),  a = β/(α+β),  b = α/(α+β)   (eq. 4)
    g = (fit.alpha * fit.A / (fit.beta * fit.B)) ** (1 / (fit.alpha + fit.beta))
    return g, fit.beta / (fit.alpha + fit.beta), fit.alpha / (fit.alpha + fit.beta)


def chinchilla_frontier(flops: int, fit: ChinchillaFit = CHINCHILLA) -> Allocation:
    """Approach 3's compute-optimal frontier for the fitted loss.

    # N_opt(C) = G·(C/6)^a,  D_opt(C) = G^-1·(C/6)^b,  G = (αA/(βB))^(1/(α+β)),  a = β/(α+β),  b = α/(α+β)

    Source: hoffmann2022"""
    _pos(flops=flops)
    g, a, b = _frontier(fit)
    n = g * (flops / 6) ** a
    d = (flops / 6) ** b / g
    return Allocation(method="Chinchilla Approach 3 (eq. 4)", params=round(n), tokens=round(d), flops=int(flops),
                      formula=f"N = {g:.4f}·(C/6)^{a:.4f}, D = (C/6)^{b:.4f}/{g:.4f}", source="hoffmann2022",
                      note="with the printed constants the fit favours smaller models trained longer than the 20 rule")


def kaplan_optimal(flops: int, fit: KaplanFit = KAPLAN) -> Allocation:
    """Kaplan et al.'s compute-efficient size, for comparison (their N is non-embedding).

    # N_opt = 1.3e9 · C_min^0.73  (C_min in PF-days),  D = C / (6·N_opt)

    Source: kaplan2020-laws"""
    _pos(flops=flops)
    c = flops / PF_DAY
    n = fit.N_e * c ** fit.p_N
    d = flops / (6 * n)
    return Allocation(method="Kaplan 2020 (N ∝ C^0.73)", params=round(n), tokens=max(1, round(d)), flops=int(flops),
                      formula="N = 1.3e9·(C/PF-day)^0.73, D = C/(6N)", source="kaplan2020-laws",
                      note=f"non-embedding N; Table 6's own D_opt = 2e10·C^0.27 = {fit.D_e * c ** fit.p_D:.3g} tokens; "
                           f"Kaplan's prescription trains big models far short of 20 tokens/param")


def optimal_tokens(params: int, fit: ChinchillaFit = CHINCHILLA) -> tuple[Allocation, Allocation]:
    """For a given size: the compute-optimal tokens by the rule and by the Approach 3 frontier.

    # rule: D = 20·N;   Approach 3: C such that N_opt(C) = N, i.e. C/6 = (N/G)^(1/a), D = D_opt(C)

    Source: hoffmann2022"""
    _pos(params=params)
    rule = Allocation(method="Chinchilla 20 tokens/param", params=int(params),
                      tokens=CHINCHILLA_TOKENS_PER_PARAM * int(params),
                      flops=training_flops(params, CHINCHILLA_TOKENS_PER_PARAM * int(params)),
                      formula="D = 20·N", source="hoffmann2022")
    g, a, b = _frontier(fit)
    c6 = (params / g) ** (1 / a)
    d = c6 ** b / g
    a3 = Allocation(method="Chinchilla Approach 3 (eq. 4)", params=int(params), tokens=round(d),
                    flops=round(6 * c6), formula="C/6 = (N/G)^(1/a), D = (C/6)^b / G", source="hoffmann2022")
    return rule, a3


def chinchilla_loss(params: int, tokens: int, fit: ChinchillaFit = CHINCHILLA) -> Loss:
    """Predicted final pre-training loss (nats/token on the paper's MassiveText).

    # L(N, D) = E + A/N^α + B/D^β

    Source: hoffmann2022"""
    _pos(params=params, tokens=tokens)
    t = (("E (irreducible)", fit.E), ("A/N^α (finite model)", fit.A / params ** fit.alpha),
         ("B/D^β (finite data)", fit.B / tokens ** fit.beta))
    return Loss(law="Chinchilla", total=sum(v for _, v in t), terms=t, formula="E + A/N^α + B/D^β",
                source="hoffmann2022", params_counted="all parameters")


def kaplan_loss(params_non_embedding: int, tokens: int | None = None, fit: KaplanFit = KAPLAN) -> Loss:
    """Kaplan et al.'s loss (nats/token on WebText2): L(N) alone, or L(N, D) when D is given.

    # L(N) = (N_c/N)^α_N;   L(N, D) = [(N_c/N)^(α_N/α_D) + D_c/D]^α_D

    Source: kaplan2020-laws"""
    _pos(params=params_non_embedding)
    n = params_non_embedding
    if tokens is None:
        v = (fit.N_c / n) ** fit.alpha_N
        return Loss(law="Kaplan L(N)", total=v, terms=(("(N_c/N)^α_N", v),), formula="(N_c/N)^α_N",
                    source="kaplan2020-laws", params_counted="non-embedding parameters")
    _pos(tokens=tokens)
    x, y = (fit.N_c / n) ** (fit.alpha_N / fit.alpha_D), fit.D_c / tokens
    return Loss(law="Kaplan L(N, D)", total=(x + y) ** fit.alpha_D,
                terms=(("(N_c/N)^(α_N/α_D)", x), ("D_c/D", y)), formula="[(N_c/N)^(α_N/α_D) + D_c/D]^α_D",
                source="kaplan2020-laws", params_counted="non-embedding parameters")


def kaplan_loss_data(tokens: int, fit: KaplanFit = KAPLAN) -> float:
    """# L(D) = (D_c/D)^α_D  (large model, early stopping)

    Source: kaplan2020-laws"""
    _pos(tokens=tokens)
    return (fit.D_c / tokens) ** fit.alpha_D


def kaplan_loss_compute(flops: int, fit: KaplanFit = KAPLAN) -> float:
    """# L(C_min) = (C_c^min / C_min)^α_C^min   (C in PF-days)

    Source: kaplan2020-laws"""
    _pos(flops=flops)
    return (fit.C_c / (flops / PF_DAY)) ** fit.alpha_C


def tokens_for_loss(params: float, loss: float, fit: ChinchillaFit = CHINCHILLA) -> float | None:
    """Tokens a model of N parameters needs to reach `loss`, or None if it never can.

    # D = (B / (ℓ − E − A/N^α))^(1/β)

    Source: hoffmann2022"""
    gap = loss - fit.E - fit.A / params ** fit.alpha
    return None if gap <= 0 else (fit.B / gap) ** (1 / fit.beta)


def optimal_loss(flops: int, fit: ChinchillaFit = CHINCHILLA) -> float:
    """The lowest loss a budget reaches on the Approach 3 frontier: L(N_opt(C), D_opt(C)).

    Source: hoffmann2022"""
    a = chinchilla_frontier(flops, fit)
    return chinchilla_loss(a.params, a.tokens, fit).total


def compute_for_loss(loss: float, fit: ChinchillaFit = CHINCHILLA) -> int:
    """The smallest compute whose Chinchilla-optimal model reaches `loss` (bisection on log C).

    Source: hoffmann2022"""
    if loss <= fit.E:
        raise LlmsizeError(f"scaling: a loss of {loss:.4f} is at or below the irreducible E = {fit.E}")
    lo, hi = math.log(1e6), math.log(1e40)
    if optimal_loss(round(math.exp(hi)), fit) > loss:
        raise LlmsizeError(f"scaling: a loss of {loss:.4f} needs more than 1e40 FLOPs")
    for _ in range(200):
        mid = (lo + hi) / 2
        if optimal_loss(round(math.exp(mid)), fit) > loss:
            lo = mid
        else:
            hi = mid
    return round(math.exp(hi))


# -- inference-aware scaling (Sardana et al. 2023) ----------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class InferenceAware:
    """The model that reaches `loss` at the least total compute when it will also serve D_inf tokens."""

    loss: float
    inference_tokens: int
    params: int
    tokens: int
    train_flops: int
    inference_flops: int
    chinchilla: Allocation  # the training-optimal model with the same loss
    chinchilla_inference_flops: int

    @property
    def total_flops(self) -> int:
        return self.train_flops + self.inference_flops

    @property
    def chinchilla_total_flops(self) -> int:
        return self.chinchilla.flops + self.chinchilla_inference_flops

    @property
    def saving(self) -> float:
        """Fraction of total (training + inference) compute saved against the Chinchilla-optimal model."""
        return 1 - self.total_flops / self.chinchilla_total_flops


def inference_optimal(*, inference_tokens: int, loss: float | None = None, flops: int | None = None,
                      fit: ChinchillaFit = CHINCHILLA) -> InferenceAware:
    """Sardana et al.'s inference-aware optimum under the Chinchilla Approach 3 loss.

    # min_{N, D_tr} 6·N·D_tr + 2·N·D_inf   subject to   L(N, D_tr) = ℓ
    ℓ is given, or is the loss of the Chinchilla-optimal model for `flops`.

    Source: sardana2023"""
    if (loss is None) == (flops is None):
        raise LlmsizeError("scaling: give either a target loss or a compute budget, not both")
    if inference_tokens < 0:
        raise LlmsizeError("scaling: inference tokens must not be negative")
    ell = optimal_loss(flops, fit) if flops is not None else float(loss)  # type: ignore[arg-type]
    if ell <= fit.E:
        raise LlmsizeError(f"scaling: a loss of {ell:.4f} is at or below the irreducible E = {fit.E}")

    def cost(log_n: float) -> float:
        n = math.exp(log_n)
        d = tokens_for_loss(n, ell, fit)
        return math.inf if d is None else 6 * n * d + 2 * n * inference_tokens

    lo = math.log((fit.A / (ell - fit.E)) ** (1 / fit.alpha)) + 1e-9
    hi = lo + math.log(1e8)
    grid = [lo + (hi - lo) * i / 800 for i in range(801)]
    best = min(range(len(grid)), key=lambda i: cost(grid[i]))
    a, b = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    phi = (math.sqrt(5) - 1) / 2
    for _ in range(100):  # golden-section refinement of the bracketing grid cell
        c, d = b - phi * (b - a), a + phi * (b - a)
        if cost(c) <= cost(d):
            b = d
        else:
            a = c
    n = math.exp((a + b) / 2)
    d_tr = tokens_for_loss(n, ell, fit)
    assert d_tr is not None
    ref = chinchilla_frontier(compute_for_loss(ell, fit), fit)
    return InferenceAware(loss=ell, inference_tokens=int(inference_tokens), params=round(n), tokens=round(d_tr),
                          train_flops=round(6 * n * d_tr), inference_flops=round(2 * n * inference_tokens),
                          chinchilla=ref, chinchilla_inference_flops=2 * ref.params * int(inference_tokens))


# -- over-training, stated plainly ------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class Overtraining:
    """How far a (params, tokens) run is from Chinchilla-optimal, and what it buys."""

    params: int
    tokens: int
    flops: int
    loss: Loss
    same_compute: Allocation  # the Approach 3 optimum for this run's compute
    same_compute_loss: float
    same_loss: Allocation  # the Approach 3 optimum reaching this run's loss

    @property
    def tokens_per_param(self) -> float:
        return self.tokens / self.params

    @property
    def times_rule(self) -> float:
        return self.tokens_per_param / CHINCHILLA_TOKENS_PER_PARAM

    @property
    def extra_compute(self) -> float:
        """Compute of this run over the compute a Chinchilla-optimal run needs for the same loss."""
        return self.flops / self.same_loss.flops

    @property
    def inference_saving(self) -> float:
        """Per-token inference FLOPs (≈ 2N) saved against the same-loss Chinchilla-optimal model."""
        return 1 - self.params / self.same_loss.params


def overtraining(params: int, tokens: int, fit: ChinchillaFit = CHINCHILLA) -> Overtraining:
    """Tokens per parameter against the 20 rule, the loss paid at equal compute, and the compute
    paid at equal loss, under the Approach 3 fit.

    # ratio = D/N;  ΔL = L(N, D) − L(N_opt(6ND), D_opt(6ND));  C / C*(L(N, D))

    Source: hoffmann2022"""
    c = training_flops(params, tokens)
    loss = chinchilla_loss(params, tokens, fit)
    same_c = chinchilla_frontier(c, fit)
    return Overtraining(params=int(params), tokens=int(tokens), flops=c, loss=loss, same_compute=same_c,
                        same_compute_loss=chinchilla_loss(same_c.params, same_c.tokens, fit).total,
                        same_loss=chinchilla_frontier(compute_for_loss(loss.total, fit), fit))
