#!/usr/bin/python3
"""Checks a raw Server-Sent Events body (stdin) against the worker contract,
byte for byte: every event is exactly `event: T\\ndata: {json}\\n\\n` with
"type" == T; `started` first (job_id, model, started_at, seed, prompt_tokens),
then `token` events with t (str) and i counting from 0, then exactly one
terminal event (`end` or `error`) and nothing after it.
Prints a summary line: TERMINAL CODE_OR_REASON TOKENS_TEXT_AS_JSON."""
import json
import re
import sys

raw = sys.stdin.buffer.read().decode("utf-8")
events = raw.split("\n\n")
if events[-1] != "":
    sys.exit("stream does not end with a blank line: %r" % events[-1][-80:])
events = events[:-1]
if not events:
    sys.exit("empty stream")
seen = []
text = ""
for n, ev in enumerate(events):
    m = re.fullmatch(r"event: ([a-z]+)\ndata: (\{.*\})", ev)
    if not m:
        sys.exit("event %d is not 'event: T\\ndata: {...}': %r" % (n, ev))
    typ, data = m.group(1), json.loads(m.group(2))
    if data.get("type") != typ:
        sys.exit("event %d: type %r != event %r" % (n, data.get("type"), typ))
    seen.append((typ, data))
first = seen[0]
if first[0] != "started":
    sys.exit("first event is %s, not started" % first[0])
for key, kind in (("job_id", str), ("model", str), ("started_at", str), ("seed", int),
                  ("prompt_tokens", int)):
    if not isinstance(first[1].get(key), kind):
        sys.exit("started lacks %s: %r" % (key, first[1]))
if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", first[1]["started_at"]):
    sys.exit("started_at is not RFC 3339 UTC: %r" % first[1]["started_at"])
i = 0
for typ, data in seen[1:-1]:
    if typ == "metrics":
        continue
    if typ != "token":
        sys.exit("unexpected %s event before the end" % typ)
    if data.get("i") != i or not isinstance(data.get("t"), str) or set(data) != {"type", "t", "i"}:
        sys.exit("bad token event: %r (expected i=%d)" % (data, i))
    i += 1
    text += data["t"]
typ, data = seen[-1]
if typ == "end":
    for key in ("tokens_out", "decode_time_ms"):
        if not isinstance(data.get(key), int):
            sys.exit("end lacks %s: %r" % (key, data))
    if data.get("stop_reason") not in ("MAX_TOKENS", "EOS", "STOP_SEQUENCE", "CANCELLED"):
        sys.exit("bad stop_reason: %r" % data)
    if (data["stop_reason"] == "STOP_SEQUENCE") != ("stop_sequence_matched" in data):
        sys.exit("stop_sequence_matched must come exactly with STOP_SEQUENCE: %r" % data)
    what = data["stop_reason"]
elif typ == "error":
    if not isinstance(data.get("code"), str) or not isinstance(data.get("message"), str) \
            or not isinstance(data.get("retriable"), bool):
        sys.exit("bad error event: %r" % data)
    what = data["code"]
else:
    sys.exit("last event is %s, not end or error" % typ)
print(typ, what, json.dumps(text))
