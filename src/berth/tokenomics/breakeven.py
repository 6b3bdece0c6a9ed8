"""The utilization at which owned GPUs cost what a cloud API charges per token.

"Is buying cheaper than renting tokens?" has no yes/no answer: it depends on how busy the
GPUs are. Because the annual cost is linear in utilization (A = F + V·u, see model.py)
and tokens are proportional to it (K = K1·u), the crossing point has a closed form:

    on-prem $/Mtok   c(u) = (F + V·u) / (K1·u) · 10^6
    API $/Mtok       P    = (N_in · p_in + N_out · p_out) / (N_in + N_out)
                            (the API's input and output prices blended by the workload's mix)
    c(u) = P   <=>   u* = F / (P · K1 / 10^6 - V)

No utilization breaks even when P · K1 / 10^6 <= V (the energy a token needs already costs
more than the API charges), and in practice none does when u* lies above a ceiling that a
serving fleet can sustain (queueing makes latency explode near 100%): both are reported as
"never", with the utilization that would have been needed when there is one.

An API can name one model class; it is then compared with that class's share of the cost
(f_i·F, f_i·V) and tokens, blended by that class's own input/output mix.
"""

from __future__ import annotations

from dataclasses import dataclass

from berth.tokenomics.model import MILLION, Fleet, Workload, annual_cost, tokens_per_year


@dataclass(frozen=True)
class CloudApi:
    """A cloud API's list prices in dollars per million input and output tokens."""

    name: str
    input_price: float
    output_price: float
    model_class: str | None = None


def blended_price(api: CloudApi, input_tokens: float, output_tokens: float) -> float:
    """The API's $/Mtok for a token mix of `input_tokens` and `output_tokens`."""
    total = input_tokens + output_tokens
    return (input_tokens * api.input_price + output_tokens * api.output_price) / total


@dataclass(frozen=True)
class BreakEven:
    """Where on-prem $/Mtok meets the API's; `utilization` is None when it never does."""

    api: str
    model_class: str | None
    api_price_per_mtok: float
    utilization: float | None
    required_utilization: float | None
    ceiling: float
    reason: str | None


def break_even(fleet: Fleet, workload: Workload, api: CloudApi, ceiling: float = 0.85) -> BreakEven:
    """Solve c(u) = P for u; report "never" above `ceiling` or when energy alone costs more."""
    if not 0.0 < ceiling <= 1.0:
        raise ValueError("the practical ceiling must be within (0, 1]")
    fixed = annual_cost(fleet, 0.0).total
    variable = annual_cost(fleet, 1.0).total - fixed
    at_full = tokens_per_year(fleet, workload, 1.0)
    if api.model_class is None:
        share = 1.0
        n_in = sum(t.input_tokens for t in at_full)
        n_out = sum(t.output_tokens for t in at_full)
    else:
        match = [t for t in at_full if t.name == api.model_class]
        if not match:
            raise ValueError(f"API {api.name!r} names unknown model class {api.model_class!r}")
        share, n_in, n_out = match[0].gpu_time_share, match[0].input_tokens, match[0].output_tokens
    price = blended_price(api, n_in, n_out)
    revenue_at_full = price * (n_in + n_out) / MILLION
    margin = revenue_at_full - share * variable
    needed = share * fixed / margin if margin > 0 else None
    reason: str | None = None
    if needed is None:
        reason = "never: the energy a token needs already costs more than the API price"
    elif needed > ceiling:
        reason = (
            f"never: needs {needed:.0%} utilization, above the practical ceiling of {ceiling:.0%}"
        )
    return BreakEven(
        api=api.name,
        model_class=api.model_class,
        api_price_per_mtok=price,
        utilization=None if reason else needed,
        required_utilization=needed,
        ceiling=ceiling,
        reason=reason,
    )
