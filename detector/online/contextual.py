"""Contextual anomaly detector: how much of the present the learned contexts failed to predict.

In the spirit of Smirnov's Contextual Anomaly Detector (CAD OSE, NAB v1.1: 69.9 standard),
written from its published description:

* facts: each value is quantised into ``2 ** bits`` levels over the value range; its sensory
  facts are the level's binary digits, one fact per (position, digit), so neighbouring
  levels share their high digits (a partial prediction is partly right);
* contexts: a context is a pair (left semi-context -> right semi-context) with a usage count;
  the left is the previous step's sensory facts plus up to ``max_left`` of the contexts that
  were active then ("neurons": the step's own history, so that contexts chain into longer
  sequences), the right is the step's sensory facts. Every step reinforces (or creates) the
  first-order context (previous facts only) and the one with the full left;
* prediction: of the contexts whose left is fully active now, the ``max_active`` most specific
  (longest left, then most used) predict the union of their rights; those whose right comes
  true are the next step's active neurons;
* score: the share of the step's sensory facts that no selected context predicted (1 when
  none was selected), then the rest period: a score is reported only if it exceeds every raw
  score of the last ``rest_period`` steps, so an episode reads as one alert at its onset.

Range: ``input_min`` / ``input_max`` when given (NAB hands every detector the file's extremes);
otherwise (strictly online) the range of the first ``range_warmup`` points, widened by
``range_margin`` of its width on each side, is used, and a value beyond it is scored with the
extreme level plus an out-of-range fact, then widens the range (which shifts the meaning of
the levels learned so far: the price of not knowing the range in advance).

Memory: at most ``max_contexts`` contexts per series; when full, the least used (then least
recently used) tenth is forgotten at once. Deterministic: ties break on the context id.
"""

from __future__ import annotations

import math
from collections import deque

__all__ = ["ContextualDetector"]

_Facts = tuple[int, ...]
_Left = tuple[_Facts, tuple[int, ...]]


class _Context:
    __slots__ = ("count", "cid", "left", "right", "used")

    def __init__(self, cid: int, left: _Left, right: _Facts, step: int) -> None:
        self.cid = cid
        self.left = left
        self.right = right
        self.count = 0
        self.used = step


class ContextualDetector:
    """Online context learner over quantised values; scores in [0, 1] the share of the
    current facts that its active contexts did not predict (see the module docstring).

    >>> det = ContextualDetector(input_min=0.0, input_max=9.0, rest_period=0)
    >>> for i in range(300):  # 5.0 always follows 9.0, and 0.0 follows 2.0
    ...     det.learn_one([0.0, 9.0, 5.0, 2.0][i % 4], 60.0 * i)
    >>> det.score_one(0.0, 60.0 * 300), det.score_one(5.0, 60.0 * 300) > 0.3
    (0.0, True)
    """

    CACHES: tuple[str, ...] = ()

    def __init__(
        self,
        input_min: float | None = None,
        input_max: float | None = None,
        bits: int = 3,
        max_left: int = 5,
        max_active: int = 16,
        max_contexts: int = 20000,
        rest_period: int = 30,
        warmup: int = 30,
        range_warmup: int = 150,
        range_margin: float = 0.1,
    ) -> None:
        self.input_min = input_min
        self.input_max = input_max
        self.bits = bits
        self.max_left = max_left
        self.max_active = max_active
        self.max_contexts = max_contexts
        self.rest_period = rest_period
        self.warmup = warmup
        self.range_warmup = range_warmup
        self.range_margin = range_margin

        self.n_ = 0
        self.lo_ = input_min if input_min is not None else math.inf
        self.hi_ = input_max if input_max is not None else -math.inf
        self.fixed_ = input_min is not None and input_max is not None
        self.frozen_ = self.fixed_
        self.seen_ = 0  # points learned since the range was set
        self.next_id_ = 0
        self.contexts_: dict[int, _Context] = {}
        self.lookup_: dict[tuple[_Left, _Facts], int] = {}
        self.by_key_: dict[tuple[_Facts, int], list[int]] = {}  # (facts, first neuron | -1)
        self.facts_: _Facts = ()  # previous step's sensory facts
        self.neurons_: tuple[int, ...] = ()  # previous step's active contexts
        self.selected_: list[int] = []  # contexts predicting this step
        self.predicted_: frozenset[int] = frozenset()
        self.recent_: deque[float] = deque(maxlen=max(rest_period, 1))

    # -- facts ---------------------------------------------------------------------------------

    def facts(self, x: float) -> _Facts:
        """Sensory facts of ``x``: the binary digits of its level, plus 2*bits+0/1 beyond."""
        lo, hi = self.lo_, self.hi_
        levels = 1 << self.bits
        if not hi > lo:
            q, out = 0, -1
        else:
            pos = (x - lo) / (hi - lo) * levels
            out = -1 if 0.0 <= pos <= levels else (0 if pos < 0.0 else 1)
            q = (
                min(max(int(pos), 0), levels - 1)
                if math.isfinite(pos)
                else (0 if pos < 0 else levels - 1)
            )
        facts = [2 * k + ((q >> k) & 1) for k in range(self.bits)]
        if out >= 0:
            facts.append(2 * self.bits + out)
        return tuple(facts)

    # -- contexts ------------------------------------------------------------------------------

    def _matching(self, facts: _Facts, neurons: tuple[int, ...]) -> list[int]:
        """Contexts whose left is fully active given ``facts`` and ``neurons``, best first."""
        active = set(neurons)
        found: list[int] = []
        for first in (-1, *neurons):
            for cid in self.by_key_.get((facts, first), ()):
                ctx = self.contexts_.get(cid)
                if ctx is not None and active.issuperset(ctx.left[1]):
                    found.append(cid)
        ctxs = self.contexts_
        found.sort(key=lambda c: (-len(ctxs[c].left[1]), -ctxs[c].count, c))
        return found[: self.max_active]

    def _raw(self, facts: _Facts) -> float:
        if not self.selected_:
            return 1.0
        missing = sum(1 for f in facts if f not in self.predicted_)
        return missing / len(facts)

    def _reinforce(self, left: _Left, right: _Facts) -> None:
        key = (left, right)
        cid = self.lookup_.get(key)
        if cid is None:
            cid = self.next_id_
            self.next_id_ += 1
            self.contexts_[cid] = _Context(cid, left, right, self.n_)
            self.lookup_[key] = cid
            first = left[1][0] if left[1] else -1
            self.by_key_.setdefault((left[0], first), []).append(cid)
        ctx = self.contexts_[cid]
        ctx.count += 1
        ctx.used = self.n_

    def _forget(self) -> None:
        """Drop the least used tenth of the contexts (bounded memory)."""
        ctxs = sorted(self.contexts_.values(), key=lambda c: (c.count, c.used, c.cid))
        for ctx in ctxs[: max(1, len(ctxs) // 10)]:
            del self.contexts_[ctx.cid]
            del self.lookup_[(ctx.left, ctx.right)]
            first = ctx.left[1][0] if ctx.left[1] else -1
            bucket = self.by_key_[(ctx.left[0], first)]
            bucket.remove(ctx.cid)
            if not bucket:
                del self.by_key_[(ctx.left[0], first)]

    # -- public API ----------------------------------------------------------------------------

    def raw_score(self, x: float) -> float:
        """Share of ``x``'s facts that were not predicted (0 during warm-up)."""
        if not self.frozen_ or self.seen_ < self.warmup:
            return 0.0
        return self._raw(self.facts(x))

    def score_one(self, x: float, t: float) -> float:
        raw = self.raw_score(x)
        if self.rest_period > 0 and self.recent_ and raw <= max(self.recent_):
            return 0.0
        return raw

    def learn_one(self, x: float, t: float) -> None:
        raw = self.raw_score(x)
        if self.rest_period > 0:
            self.recent_.append(raw)
        if not self.frozen_:
            if not math.isfinite(x):
                return
            self.lo_ = min(self.lo_, x)
            self.hi_ = max(self.hi_, x)
            self.n_ += 1
            if self.n_ >= self.range_warmup:
                pad = self.range_margin * (self.hi_ - self.lo_)
                self.lo_ -= pad
                self.hi_ += pad
                self.frozen_ = True
            return
        facts = self.facts(x)
        if not self.fixed_ and math.isfinite(x) and not self.lo_ <= x <= self.hi_:
            pad = self.range_margin * (max(self.hi_, x) - min(self.lo_, x))
            self.lo_ = min(self.lo_, x - pad)
            self.hi_ = max(self.hi_, x + pad)
        if self.facts_:
            neurons = tuple(c for c in self.selected_ if self.contexts_[c].right == facts)
            self._reinforce((self.facts_, ()), facts)
            if self.neurons_:
                self._reinforce((self.facts_, self.neurons_[: self.max_left]), facts)
        else:
            neurons = ()
        self.facts_ = facts
        self.neurons_ = tuple(sorted(neurons[: self.max_left]))
        if len(self.contexts_) > self.max_contexts:
            self._forget()
        self.selected_ = self._matching(self.facts_, self.neurons_)
        self.predicted_ = frozenset(f for c in self.selected_ for f in self.contexts_[c].right)
        self.n_ += 1
        self.seen_ += 1
