"""Incidents per campaign: how many incidents each distributed campaign of a simulated run opened.

"One campaign, one incident" (issue 12): a distributed credential-stuffing hour,
a distributed scan or a shared id walk must be one incident, not one per client.
For every label of a campaign shape this counts the incidents of the label's kind
on the label's service whose span overlaps the label's (widened as `detector
evaluate` widens it), whatever their route or client, so a per-client storm
counts in full.

    python scripts/eval_campaigns.py RUN_DIR [RUN_DIR ...]

RUN_DIR holds labels.jsonl and the incidents a replay wrote (incidents.jsonl,
as scripts/eval_scenarios.py leaves them).
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from detector.evaluate.matching import AFTER_S, BEFORE_S, load_incidents, load_labels

CAMPAIGN_SHAPES = ("slow_stuffing", "distributed_scan", "distributed_walk")


def per_campaign(run: Path) -> list[tuple[str, str, int]]:
    """(label id, shape, incidents of its kind overlapping it) for each campaign label."""
    labels = load_labels(run / "labels.jsonl")
    incidents = load_incidents([run / "incidents.jsonl"])
    out = []
    for lab in labels:
        if lab.shape not in CAMPAIGN_SHAPES:
            continue
        lo = lab.start.timestamp() - BEFORE_S
        hi = lab.end.timestamp() + AFTER_S
        n = sum(1 for inc in incidents
                if inc.kind == lab.kind and inc.service == lab.service
                and inc.start.timestamp() <= hi and inc.end.timestamp() >= lo)
        out.append((lab.id, lab.shape, n))
    return out


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python scripts/eval_campaigns.py RUN_DIR [RUN_DIR ...]", file=sys.stderr)
        return 2
    tally: dict[str, Counter[int]] = {}
    for arg in argv:
        for lid, shape, n in per_campaign(Path(arg)):
            print(f"{Path(arg).name:<14} {lid:<10} {shape:<18} incidents {n}")
            tally.setdefault(shape, Counter())[n] += 1
    for shape, counts in sorted(tally.items()):
        spread = ", ".join(f"{k} incident(s): {v}" for k, v in sorted(counts.items()))
        print(f"{shape}: {sum(counts.values())} campaigns; {spread}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
