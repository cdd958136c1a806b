"""When a draft pays: the adaptive rule of speculative decoding, from times and acceptance measured as they happen.

Plain decoding writes one token per one-token decode (`single` seconds). A draft of k tokens is checked in one
batch of k+1 (the token just written and the draft), which costs `batch(k+1)` seconds plus whatever making the
draft cost (nothing for lookup drafting; k decodes of the draft model for a draft model), and writes the token
plus every draft token the model agreed with, up to the first it did not. With `rate` the chance that the next
draft token is accepted given that the ones before it were, the expected tokens written are
1 + rate + rate^2 + ... + rate^k. A draft is made only where the best k writes more tokens a second than plain
decoding, by MARGIN: where it does not (a free-form story, a small model on a small CPU), nothing is drafted and
nothing is lost, which is what makes `--speculate auto` never slower than `off`.

Everything here is measured in this process, on this machine: the seconds of a one-token decode and of each batch
size (an exponential moving average each; sizes not yet seen are interpolated from those that were, or
extrapolated with a prior slope), and the acceptance per draft source (lookup drafts by the length of the n-gram
they matched, and the draft model), decayed so that it follows the reply from copying to free writing and back.
Lookup drafts are scored even when they are not used (speculative.py's shadow): measuring them costs nothing.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

K_MAX = 16  # the longest draft: past this, acceptance rarely holds and the batch stops being cheap
MARGIN = 1.05  # a draft must promise this much over plain decoding: the estimates are noisy
PRIOR_SLOPE = 0.2  # until a second batch size is measured: each extra token of a batch costs this share of one
EMA = 0.3  # weight of a new time measurement
OUTLIER = 3.0  # a time measured over this many times its average counts as only this many
PROBE_RATE = 0.9  # the acceptance a draft model is assumed to reach when deciding whether to measure it again
SINGLE_WINDOW = 16  # one-token decodes remembered: the quickest of them is the estimate
DECAY = 0.9  # each acceptance observation weighs this much less for every newer one (about 10 remembered)


@dataclass
class Acceptance:
    """Decayed counts of draft tokens the model agreed with (hits) and the one it did not (misses)."""

    hits: float = 1.0  # the prior: one of each, a rate of 0.5 until something is seen
    misses: float = 1.0

    def see(self, hit: bool) -> None:
        self.hits = self.hits * DECAY + (1.0 if hit else 0.0)
        self.misses = self.misses * DECAY + (0.0 if hit else 1.0)

    @property
    def rate(self) -> float:
        return self.hits / (self.hits + self.misses)


def expected_tokens(rate: float, k: int) -> float:
    """Tokens one check of a k-token draft writes: the token before it, and the draft up to its first miss."""
    return 1.0 + sum(rate**i for i in range(1, k + 1))


def batch_seconds(n: int, single: float, measured: dict[int, float]) -> float:
    """The seconds of an n-token decode: measured where it was, else interpolated between the nearest measured
    sizes, else extrapolated from the largest below it (with the slope of the two largest, or the prior's)."""
    points = {1: single, **measured}
    if n in points:
        return points[n]
    below = sorted(size for size in points if size < n)
    above = sorted(size for size in points if size > n)
    low = below[-1]
    if above:
        high = above[0]
        return points[low] + (points[high] - points[low]) * (n - low) / (high - low)
    if len(below) >= 2:
        before = below[-2]
        slope = max((points[low] - points[before]) / (low - before), 0.0)
    else:
        slope = PRIOR_SLOPE * single
    return points[low] + slope * (n - low)


def best_length(rate: float, single: float, measured: dict[int, float], draft_seconds: float,
                longest: int) -> tuple[int, float]:
    """The draft length (0: no draft) that writes the most tokens a second, and that speed as a multiple of plain
    decoding's. `draft_seconds`: what drafting one token costs (0 for lookup drafts)."""
    best, best_gain = 0, 1.0
    for k in range(1, min(longest, K_MAX) + 1):
        seconds = batch_seconds(k + 1, single, measured) + k * draft_seconds
        gain = expected_tokens(rate, k) / seconds * single
        if gain > best_gain:
            best, best_gain = k, gain
    return (best, best_gain) if best_gain >= MARGIN else (0, 1.0)


@dataclass
class Costs:
    """One engine's measurements, kept across its replies (the machine and the model stay the same)."""

    single: float | None = None  # seconds of a one-token decode: the quickest of the last SINGLE_WINDOW
    singles: deque = field(default_factory=lambda: deque(maxlen=SINGLE_WINDOW))
    batches: dict[int, float] = field(default_factory=dict)  # seconds by batch size
    draft_token: float | None = None  # seconds the draft model takes per drafted token
    acceptance: dict[object, Acceptance] = field(default_factory=dict)  # by draft source

    def timed_single(self, seconds: float) -> None:
        """A decode is only ever slowed (a core taken away for a while), never sped up, so the quickest recent one
        is its cost. Batches keep moving averages, slowed as often: any error falls on the side of not drafting,
        which costs nothing. (An average here once took in a first decode that waited 3 s; every batch then looked
        cheap, and drafts, never letting a plain decode be timed again, made a reply 16% slower.)"""
        self.singles.append(seconds)
        self.single = min(self.singles)

    def timed_batch(self, size: int, seconds: float) -> None:
        self.batches[size] = _average(self.batches.get(size), seconds)

    def timed_draft(self, tokens: int, seconds: float) -> None:
        self.draft_token = _average(self.draft_token, seconds / max(tokens, 1))

    def saw(self, source, hit: bool) -> None:
        self.acceptance.setdefault(source, Acceptance()).see(hit)

    def rate(self, source) -> float:
        found = self.acceptance.get(source)
        return found.rate if found else Acceptance().rate

    def could_pay(self, source, longest: int, *, draft_share: float) -> bool:
        """Whether drafts from `source` would pay if nearly all were taken (PROBE_RATE): worth measuring again."""
        return self.length(source, longest, draft_share=draft_share, rate=PROBE_RATE)[0] > 0

    def length(self, source, longest: int, *, draft_share: float = 0.0,
               rate: float | None = None) -> tuple[int, float]:
        """How long a draft from `source` should be (0: none), and the speed-up expected of it.
        `draft_share`: for a draft model, its guess of a drafted token's cost as a share of a one-token decode of
        the target (its size over the target's), used until its own time is measured."""
        if self.single is None or longest <= 0:
            return 0, 1.0  # nothing measured yet: the first tokens are decoded plainly, and timed
        single = self.plain_seconds()
        per_token = 0.0
        if draft_share:
            per_token = self.draft_token if self.draft_token is not None else single * draft_share
        return best_length(self.rate(source) if rate is None else rate, single, self.batches, per_token, longest)

    def plain_seconds(self) -> float:
        """A one-token decode's seconds, never more than any batch's: a batch of more tokens cannot cost less.
        An inflated `single` is the one mistake that makes drafting look cheaper than it is (a first decode that
        waited seconds for a core was measured once, then drafting never let a plain decode correct it)."""
        return min(self.single, *self.batches.values()) if self.batches else self.single


def _average(old: float | None, new: float) -> float:
    """The moving average with one more measurement. A measurement over OUTLIER times the average moves it as
    if it were OUTLIER times: on a shared machine a decode now and then waits seconds for a core, and one such
    wait must not stop drafting (or plain decoding) for the next hundred tokens."""
    if old is None:
        return new
    return old + EMA * (min(new, OUTLIER * old) - old)
