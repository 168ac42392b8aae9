"""Release-verdict acceptance (issue 13): `detector verdict` on simulated deploys, scored.

    python scripts/eval_verdicts.py --out DIR [--split tune|heldout] [--only NAME[,NAME...]]
                                    [--workers N] [--json FILE]

Writes the split's scenarios (detector.simulate.verdict_scenarios) into
DIR/<split>/<scenario>/ when they are missing, runs

    python -m detector verdict --service S --version V --logs access.log \
        --deployments deployments.jsonl --json

on each (N at a time), keeps its record (record.json) and stderr (verdict.err)
beside the scenario, and scores it against expected.json:

* the verdict is the expected one (fail for regressions, pass for harmless
  deploys, inconclusive where the traffic cannot support a judgement);
* a failing verdict names the change: some check with result "fail" on the
  expected route (every placeholder the same, a trailing slash ignored) has
  one of the expected check names;
* no harmless deploy fails.

Prints one row per scenario and the totals, writes DIR/<split>/results.json,
and exits 1 below the acceptance (>= 95 % correct, no harmless deploy
failed). The real-log scenarios read ../shared/data/access_logs (or
DETECTOR_SHARED_DATA) and are left out, with a note, where it is absent.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from detector.evaluate.matching import norm_route  # noqa: E402
from detector.simulate.verdict_scenarios import NAMES, REAL, SPLITS, generate_one  # noqa: E402

ACCEPT_CORRECT = 0.95
EXIT_VERDICTS = {0: "pass", 1: "fail", 3: "marginal", 4: "inconclusive"}


@dataclass
class Outcome:
    """One scenario's result: what was expected, what the verdict said, and the score."""

    name: str
    kind: str
    expected: str
    got: str
    correct: bool
    named: bool | None  # a failing check on the expected route and check (fails only)
    harmless_failed: bool
    mode: str | None  # the record's baseline mode
    mode_expected: str
    score: int | None
    failing: list[str] = field(default_factory=list)  # "check route" of each failing check
    marginal: list[str] = field(default_factory=list)  # and of each marginal one
    seconds: float = 0.0
    note: str = ""


def same_route(got: str | None, want: str | None) -> bool:
    """``METHOD /template`` equality with every placeholder alike and no trailing slash.

    >>> same_route("GET /shuttle/countdown", "GET /shuttle/countdown/")
    True
    >>> same_route("GET /v1/orders/{id}", "POST /v1/orders/{order_id}")
    False
    """
    if got is None or want is None:
        return got == want
    gm, _, gp = got.partition(" ")
    wm, _, wp = want.partition(" ")
    return gm == wm and norm_route(gp) == norm_route(wp)


def score(expected: dict[str, Any], record: dict[str, Any] | None, code: int,
          seconds: float = 0.0, note: str = "") -> Outcome:
    """Score one verdict (its record, or only its exit code) against expected.json."""
    got = str(record["verdict"]) if record else EXIT_VERDICTS.get(code, f"error (exit {code})")
    checks = record.get("checks", []) if record else []
    failing = [c for c in checks if c.get("result") == "fail"]
    want = str(expected["verdict"])
    named: bool | None = None
    if want == "fail":
        named = any(c.get("check") in expected["checks"]
                    and (expected["route"] is None or same_route(c.get("route"), expected["route"]))
                    for c in failing)
    mode = record.get("windows", {}).get("mode") if record else None
    return Outcome(
        name=str(expected["scenario"]), kind=str(expected["kind"]), expected=want, got=got,
        correct=got == want and named is not False, named=named,
        harmless_failed=want == "pass" and got == "fail", mode=mode,
        mode_expected=str(expected.get("mode", "previous")),
        score=record.get("score") if record else None,
        failing=[f"{c.get('check')} {c.get('route')}" for c in failing],
        marginal=[f"{c.get('check')} {c.get('route')}" for c in checks
                  if c.get("result") == "marginal"],
        seconds=seconds, note=note)


def run_verdict(folder: Path) -> Outcome:
    """Run `detector verdict` on one scenario folder and score it."""
    expected = json.loads((folder / "expected.json").read_text())
    cmd = [sys.executable, "-m", "detector", "verdict", "--service", expected["service"],
           "--version", expected["version"], "--logs", str(folder / "access.log"),
           "--deployments", str(folder / "deployments.jsonl"), "--json"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}
    began = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, env=env, cwd=REPO, check=False)
    seconds = round(time.perf_counter() - began, 2)
    (folder / "verdict.err").write_bytes(proc.stderr)
    record = None
    note = ""
    try:
        record = json.loads(proc.stdout)
        (folder / "record.json").write_bytes(proc.stdout)
    except ValueError:
        lines = proc.stderr.decode(errors="replace").strip().splitlines()
        note = lines[-1] if lines else "no record on stdout"
    return score(expected, record, proc.returncode, seconds, note)


def data_dir() -> Path | None:
    """The shared data folder with access_logs/, or None."""
    env = os.environ.get("DETECTOR_SHARED_DATA")
    bases = [Path(env)] if env else [REPO.parent / "shared" / "data",
                                     REPO.parent.parent / "shared" / "data"]
    return next((b for b in bases if (b / "access_logs").is_dir()), None)


def prepare(out: Path, split: str, names: list[str], data: Path | None) -> list[Path]:
    """Scenario folders of ``names`` under ``out``, generated where missing."""
    real = {c.name for c in REAL}
    folders = []
    for name in names:
        if name in real and data is None:
            continue
        folder = out / name
        if not (folder / "expected.json").is_file():
            began = time.perf_counter()
            generate_one(name, split, folder, data)
            print(f"generated {split}/{name} in {time.perf_counter() - began:.1f} s",
                  file=sys.stderr)
        folders.append(folder)
    return folders


def table(outcomes: list[Outcome]) -> str:
    """The per-scenario rows and the totals, for people."""
    rows = [f"{'scenario':<27} {'kind':<20} {'expected':<12} {'got':<12} {'ok':<3} "
            f"{'score':>5} {'mode':<11} {'s':>5}  failing checks (~ marginal)"]
    for o in outcomes:
        mode = (o.mode or "-") + ("!" if o.mode and o.mode != o.mode_expected else "")
        named = o.failing + [f"~{m}" for m in o.marginal]
        fails = "; ".join(named[:3]) + (f"; +{len(named) - 3}" if len(named) > 3 else "")
        shown = "-" if o.score is None else o.score
        rows.append(f"{o.name:<27} {o.kind:<20} {o.expected:<12} {o.got:<12} "
                    f"{'yes' if o.correct else 'NO':<3} {shown:>5} {mode:<11} "
                    f"{o.seconds:>5.1f}  {fails or o.note}")
    return "\n".join(rows)


def totals(outcomes: list[Outcome]) -> dict[str, Any]:
    """Correct share, harmless deploys failed, unnamed failures, and the acceptance."""
    n = len(outcomes)
    correct = sum(o.correct for o in outcomes)
    harmless_failed = sum(o.harmless_failed for o in outcomes)
    share = correct / n if n else 0.0
    by_kind: dict[str, list[int]] = {}
    for o in outcomes:
        tally = by_kind.setdefault(o.kind, [0, 0])
        tally[0] += o.correct
        tally[1] += 1
    return {"scenarios": n, "correct": correct, "correct_share": round(share, 4),
            "by_kind": {k: f"{c}/{m}" for k, (c, m) in by_kind.items()},
            "harmless": sum(o.expected == "pass" for o in outcomes),
            "harmless_failed": harmless_failed,
            "fails_unnamed": sum(o.named is False and o.got == "fail" for o in outcomes),
            "wrong": [o.name for o in outcomes if not o.correct],
            "accepted": n > 0 and share >= ACCEPT_CORRECT and harmless_failed == 0}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="scenarios and results go here")
    ap.add_argument("--split", choices=SPLITS, default="tune")
    ap.add_argument("--only", action="append", default=[],
                    help="scenario name(s), comma-separated or repeated")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--json", type=Path, help="also write the outcomes here")
    a = ap.parse_args(argv)
    only = [n for arg in a.only for n in arg.split(",") if n]
    unknown = sorted(set(only) - set(NAMES))
    if unknown:
        print(f"error: unknown scenario(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    data = data_dir()
    if data is None:
        print("note: shared data absent (set DETECTOR_SHARED_DATA): real-log scenarios left "
              "out", file=sys.stderr)
    out = a.out / a.split
    folders = prepare(out, a.split, only or list(NAMES), data)
    with ThreadPoolExecutor(max(1, a.workers)) as pool:
        outcomes = list(pool.map(run_verdict, folders))
    print(table(outcomes))
    tot = totals(outcomes)
    print(f"\n{a.split}: {tot['correct']}/{tot['scenarios']} correct "
          f"({tot['correct_share']:.1%}); harmless deploys failed: {tot['harmless_failed']} "
          f"of {tot['harmless']}; failing verdicts not naming the change: "
          f"{tot['fails_unnamed']}; acceptance (>= {ACCEPT_CORRECT:.0%}, no harmless "
          f"failed): {'met' if tot['accepted'] else 'NOT met'}")
    print("by kind: " + ", ".join(f"{k} {v}" for k, v in tot["by_kind"].items()))
    result = {"split": a.split, "totals": tot, "outcomes": [asdict(o) for o in outcomes]}
    (out / "results.json").write_text(json.dumps(result, indent=2))
    if a.json:
        a.json.write_text(json.dumps(result, indent=2))
    return 0 if tot["accepted"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
