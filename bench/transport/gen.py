#!/usr/bin/env python3
"""Writes a git fast-import stream for the transport benchmark: FILES files spread over
COMMITS commits, each file SIZE bytes of random base64 (so the pack stays large)."""
import base64, os, sys

files, commits, size = (int(a) for a in sys.argv[1:4])
out = sys.stdout.buffer
per = -(-files // commits)
n = 0
for c in range(commits):
    out.write(b"commit refs/heads/main\n")
    out.write(b"committer bench <bench@example.com> %d +0000\n" % (1700000000 + c))
    msg = b"commit %d" % c
    out.write(b"data %d\n%s\n" % (len(msg), msg))
    if c == 0:
        out.write(b"deleteall\n")
    for _ in range(per):
        if n >= files:
            break
        body = base64.b64encode(os.urandom(size * 3 // 4))
        out.write(b"M 644 inline dir%03d/file%05d.txt\n" % (n % 100, n))
        out.write(b"data %d\n%s\n" % (len(body), body))
        n += 1
    # Later commits also touch earlier files, as real histories do.
    if c > 0:
        body = base64.b64encode(os.urandom(size * 3 // 4))
        out.write(b"M 644 inline dir000/file00000.txt\ndata %d\n%s\n" % (len(body), body))
out.write(b"done\n")
