"""Reads any simulated log line into one shape, whatever the format."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import orjson


class Req(NamedTuple):
    ts: float
    method: str
    path: str
    query: str
    status: int
    client: str
    ua: str
    body: str
    dur: float = 0.0  # seconds


def ts(s: str) -> float:
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def jsonl(path: Path) -> list[Any]:
    return [orjson.loads(x) for x in path.read_bytes().splitlines()]


def _first(xff: str | list[str] | None) -> str | None:
    if isinstance(xff, list):
        xff = xff[0] if xff else None
    return xff.split(",")[0].strip() if xff else None


def read_requests(run: Path, service: str) -> list[Req]:
    """Every request of ``service`` in a run, whatever its log format."""
    m = orjson.loads((run / "manifest.json").read_bytes())
    s = next(x for x in m["services"] if x["name"] == service)
    out = []
    for r in jsonl(run / s["file"]):
        if s["layout"] == "nested":
            req = r["http"]["request"]
            out.append(Req(ts(r["timestamp"]), req["method"], r["url"]["path"],
                           r["url"].get("query", ""), r["http"]["response"]["status_code"],
                           r["client"]["address"], r["user_agent"]["original"],
                           req.get("body", {}).get("content", ""),
                           r["http"]["server"]["request"]["duration"]))
        elif s["format"] == "otel":
            out.append(Req(ts(r["timestamp"]), r["http.request.method"], r["url.path"],
                           r.get("url.query", ""), r["http.response.status_code"],
                           r["client.address"], r["user_agent.original"],
                           r.get("http.request.body.content", ""),
                           r["http.server.request.duration"]))
        elif s["format"] == "nginx_json":
            method, uri, _ = r["request"].split(" ")
            path, _, query = uri.partition("?")
            client = _first(r["http_x_forwarded_for"]) or r["remote_addr"]
            out.append(Req(ts(r["time_iso8601"]), method, path, query, r["status"], client,
                           r["http_user_agent"], r["request_body"], r["request_time"]))
        else:  # envoy: no request bodies
            path, _, query = r["path"].partition("?")
            peer = re.sub(r"^\[?(.*?)\]?:\d+$", r"\1", r["downstream_remote_address"])
            out.append(Req(ts(r["start_time"]), r["method"], path, query, r["response_code"],
                           _first(r["x_forwarded_for"]) or peer, r["user_agent"], "",
                           r["duration"] / 1000.0))
    return out


def route_regex(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template)) + "$")
