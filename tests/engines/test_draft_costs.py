"""The adaptive rule of speculative decoding, alone: from measured times and acceptance to a draft length."""

from __future__ import annotations

import pytest

from deskseek.engines import draft_costs
from deskseek.engines.draft_costs import Acceptance, Costs, batch_seconds, best_length, expected_tokens


def test_expected_tokens_counts_the_draft_up_to_its_first_miss():
    assert expected_tokens(0.0, 8) == 1.0  # nothing taken: the token alone
    assert expected_tokens(1.0, 8) == 9.0  # everything taken
    assert expected_tokens(0.5, 2) == pytest.approx(1 + 0.5 + 0.25)


def test_batch_seconds_measured_interpolated_and_extrapolated():
    measured = {3: 0.03, 9: 0.06}
    assert batch_seconds(1, 0.01, measured) == 0.01
    assert batch_seconds(3, 0.01, measured) == 0.03
    assert batch_seconds(2, 0.01, measured) == pytest.approx(0.02)  # between 1 and 3
    assert batch_seconds(6, 0.01, measured) == pytest.approx(0.045)  # between 3 and 9
    assert batch_seconds(12, 0.01, measured) == pytest.approx(0.075)  # on the slope of the two largest
    # Nothing measured past one token: the prior slope.
    assert batch_seconds(5, 0.01, {}) == pytest.approx(0.01 + 4 * draft_costs.PRIOR_SLOPE * 0.01)
    # A larger batch measured cheaper than a smaller one (noise) is never extrapolated as getting cheaper.
    assert batch_seconds(20, 0.01, {4: 0.05, 8: 0.04}) == pytest.approx(0.04)


def test_no_draft_where_a_batch_costs_what_its_tokens_cost():
    """A small model on a small CPU: a batch of n costs n single decodes, so nothing a draft saves pays for it."""
    linear = {n: 0.01 * n for n in range(2, 18)}
    for rate in (0.0, 0.5, 0.9, 0.99):
        assert best_length(rate, 0.01, linear, 0.0, 16) == (0, 1.0)


def test_draft_length_grows_with_acceptance_where_batches_are_cheap():
    cheap = {n: 0.01 * (1 + 0.05 * (n - 1)) for n in range(2, 18)}  # a GPU: a batch costs little more than a token
    lengths = [best_length(rate, 0.01, cheap, 0.0, 16)[0] for rate in (0.1, 0.5, 0.8, 0.95)]
    assert lengths == sorted(lengths) and lengths[0] == 0 and lengths[-1] >= 8
    k, gain = best_length(0.95, 0.01, cheap, 0.0, 16)
    assert gain == pytest.approx(expected_tokens(0.95, k) / (1 + 0.05 * k))
    assert best_length(0.95, 0.01, cheap, 0.0, 3)[0] == 3  # never past the room there is


def test_a_draft_models_own_cost_counts():
    cheap = {n: 0.01 * (1 + 0.05 * (n - 1)) for n in range(2, 18)}
    assert best_length(0.7, 0.01, cheap, 0.001, 16)[0] > 0  # a draft model a tenth the size
    assert best_length(0.7, 0.01, cheap, 0.01, 16)[0] == 0  # one as slow as the target never pays


def test_a_gain_under_the_margin_is_no_gain():
    # k=1 at rate r costs 1.2 single decodes: it writes (1 + r) / 1.2 tokens per single decode's time.
    measured = {2: 0.012}
    just_under = draft_costs.MARGIN * 1.2 - 1 - 0.01
    assert best_length(just_under, 0.01, measured, 0.0, 1) == (0, 1.0)
    assert best_length(just_under + 0.02, 0.01, measured, 0.0, 1)[0] == 1


def test_acceptance_follows_the_reply_and_forgets_the_old():
    seen = Acceptance()
    assert seen.rate == 0.5
    for _ in range(30):
        seen.see(True)
    assert seen.rate > 0.9
    for _ in range(10):
        seen.see(False)
    assert seen.rate < 0.4  # ten misses outweigh thirty older hits


def test_costs_measure_and_decide():
    costs = Costs()
    assert costs.length(("lookup", 3), 16) == (0, 1.0)  # nothing timed yet: decode plainly and time it
    costs.timed_single(0.010)
    costs.timed_single(0.020)
    assert costs.single == 0.010  # the quickest: a decode is only ever slowed
    for _ in range(20):
        costs.saw(("lookup", 3), True)
    for n in range(2, 18):
        costs.timed_batch(n, costs.single * (1 + 0.05 * (n - 1)))
    k, gain = costs.length(("lookup", 3), 16)
    assert k >= 8 and gain > 2
    assert costs.length(("lookup", 1), 16)[0] < k  # another source keeps its own (unseen: the prior's) rate
    assert costs.length(("lookup", 3), 0) == (0, 1.0)


def test_a_draft_model_is_judged_by_its_size_until_timed():
    costs = Costs(single=0.01, batches={n: 0.01 * (1 + 0.05 * (n - 1)) for n in range(2, 18)})
    for _ in range(20):
        costs.saw("model", True)
    assert costs.length("model", 16, draft_share=0.2)[0] > 0
    assert costs.length("model", 16, draft_share=1.0)[0] == 0
    costs.timed_draft(4, 0.004)  # measured: a tenth of the target's token
    assert costs.draft_token == pytest.approx(0.001)
    assert costs.length("model", 16, draft_share=1.0)[0] > 0  # the measurement wins over the guess


def test_one_long_wait_for_a_core_does_not_stop_drafting():
    costs = Costs()
    costs.timed_batch(5, 0.02)
    costs.timed_batch(5, 3.0)  # the machine was busy
    assert costs.batches[5] == pytest.approx(0.02 + draft_costs.EMA * (draft_costs.OUTLIER - 1) * 0.02)
    costs.timed_single(0.01)
    costs.timed_single(5.0)
    assert costs.single < 0.02


def test_a_first_decode_that_waited_seconds_does_not_make_drafts_look_cheap():
    """Found by benchmarks/speculative.py: a first one-token decode of 3 s was averaged in, every batch then cost
    a hundredth of a token, and drafting (never leaving a plain decode to be timed) made the reply 16% slower."""
    costs = Costs()
    costs.timed_single(3.0)
    for n in (2, 6):
        costs.timed_batch(n, 0.020 * (1 + 0.8 * (n - 1)))  # this CPU: a batch costs nearly what its tokens do
    for _ in range(20):
        costs.saw("model", True)
    costs.timed_draft(5, 5 * 0.018)  # a draft model as slow as the target
    assert costs.plain_seconds() == pytest.approx(0.020 * 1.8)  # no more than the cheapest batch
    costs.timed_single(0.020)  # the next plain decode (speculative.RETIME_EVERY forces one now and then)
    assert costs.single == 0.020 and costs.length("model", 16, draft_share=1.0) == (0, 1.0)


def test_recent_singles_only():
    costs = Costs()
    costs.timed_single(0.005)  # a quiet moment long ago
    for _ in range(draft_costs.SINGLE_WINDOW):
        costs.timed_single(0.030)
    assert costs.single == 0.030


def test_a_draft_model_as_slow_as_the_target_is_never_tried_again():
    costs = Costs(single=0.01, batches={n: 0.01 * (1 + 0.05 * (n - 1)) for n in range(2, 18)})
    assert costs.could_pay("model", 16, draft_share=0.2)  # a small one: worth measuring
    assert not costs.could_pay("model", 16, draft_share=1.0)  # the target's own size: never, however well it drafts
    costs.timed_draft(1, 0.002)
    assert costs.could_pay("model", 16, draft_share=1.0)  # measured fast after all
