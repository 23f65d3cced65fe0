#!/usr/bin/python3
"""Runs the "$ command" lines of a man page's EXAMPLES section, in order, in
one bash session in the current directory, and checks each command's
standard output against the lines shown under it: "..." alone stands for
any number of lines, "..." inside a line for any text. A command ending in
"&" runs in the background (its pid is written to bg.pids) and is given a
moment to start. Usage: run-examples.py MAN_PAGE"""
import re
import subprocess
import sys


def unescape(s):
    s = s.replace("\\&", "")
    for a, b in (("\\-", "-"), ("\\(aq", "'"), ("\\(dq", '"'), ("\\e", "\\")):
        s = s.replace(a, b)
    return s


lines = open(sys.argv[1]).read().split("\n")
section, inex, examples = None, False, []
for raw in lines:
    if raw.startswith(".SH "):
        section = raw[4:].strip()
        continue
    if section != "EXAMPLES":
        continue
    if raw.startswith(".EX"):
        inex = True
        continue
    if raw.startswith(".EE"):
        inex = False
        continue
    if not inex:
        continue
    line = unescape(raw)
    if line.startswith("$ "):
        examples.append([line[2:], []])
    elif examples:
        examples[-1][1].append(line)

script = ["set -u"]
for n, (cmd, _) in enumerate(examples):
    if cmd.rstrip().endswith("&"):
        # its own redirections win; the rest must not hold our pipes open
        script.append("( exec %s ) </dev/null >/dev/null 2>&1 & echo $! >> bg.pids; sleep 1.5"
                      % cmd.rstrip()[:-1])
        script.append(": > out.%d" % n)
    else:
        script.append("{ %s\n} > out.%d || echo \"exit status $? from example %d\" >&2" % (cmd, n, n))
subprocess.run(["bash", "-c", "\n".join(script)], check=False, timeout=120)


def matches(want, got):
    if not want:
        return not got
    if want[0] == "...":
        return any(matches(want[1:], got[i:]) for i in range(len(got) + 1))
    if not got:
        return False
    pat = "^" + ".*".join(map(re.escape, want[0].split("..."))) + "$"
    return re.match(pat, got[0]) is not None and matches(want[1:], got[1:])


bad = 0
for n, (cmd, want) in enumerate(examples):
    got = open("out.%d" % n).read().split("\n")
    if got and got[-1] == "":
        got.pop()
    got = [g for g in got if g != ""] if any(w == "" for w in want) is False else got
    if not matches(want, got):
        bad += 1
        print("example %d: %s\n  expected: %r\n  got: %r" % (n, cmd, want, got[:12]))
print("%d examples, %d failed" % (len(examples), bad))
sys.exit(1 if bad else 0)
