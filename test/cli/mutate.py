#!/usr/bin/env python3
"""mutate.py: doctored copies of to-frame(5) delivery logs, for toview -c.

    mutate.py frame < lines > framed
        frame each input line as a DATA record without metadata (the input
        of tocast -F), one write a line, so a pause in the input passes on

    mutate.py KIND log [other] > copy
        write a copy of log with one fault, and print on stderr the facts
        of the record it touched: "RECORD VIEW SENDER SEQ GSEQ" (record
        numbers count from 1, the sender in 16 hex digits)

KIND is one of
    delete      remove a DATA record
    dup         write a DATA record twice
    swap        swap a DATA record with the next one
    sender      give a DATA record a sender that is no member (SENDER below)
    seq         add 1000 to the sender seq of a DATA record
    gseq        add 1000 to the global seq of a DATA record
    view        add 1000 to the view id of a DATA record
    viewrec     add 1000 to the id of the VIEW record before it
    payload     append a byte to the payload of a DATA record
    splice      the records up to it, then every record of other (the log
                of another group)
    cut         end the log in the middle of the record
    head        end the log cleanly after the record (not a fault: a
                member killed there)

The record touched is the middle DATA record of the log that has DATA
records of the same view on both sides of it.
"""
import struct
import sys

STRANGER = 0xdeadbeefdeadbeef
HDR = b"TOFR\0\1\0\0"


def records(path):
    with open(path, "rb") as f:
        b = f.read()
    if b[:8] != HDR:
        sys.exit("mutate.py: %s: not a framed stream" % path)
    out, i = [], 8
    while i < len(b):
        (n,) = struct.unpack(">I", b[i:i + 4])
        if i + 4 + n > len(b):
            sys.exit("mutate.py: %s: cut short" % path)
        out.append(bytearray(b[i + 4:i + 4 + n]))
        i += 4 + n
    return out


def frame(r):
    return struct.pack(">I", len(r)) + bytes(r)


def is_data(r):
    return r[0] == 1 and r[1] >= 32


def u64(r, off):
    return struct.unpack(">Q", r[2 + off:10 + off])[0]


def set64(r, off, v):
    r[2 + off:10 + off] = struct.pack(">Q", v & (2**64 - 1))


def pick(recs):
    """The index of the middle DATA record with DATA of its view around."""
    data = [i for i, r in enumerate(recs) if is_data(r)]
    for i in data[len(data) // 2:] + data[:len(data) // 2]:
        if 0 < i < len(recs) - 2 and is_data(recs[i - 1]) and \
                is_data(recs[i + 1]) and \
                u64(recs[i - 1], 0) == u64(recs[i], 0) == u64(recs[i + 1], 0):
            return i
    sys.exit("mutate.py: no DATA record with DATA of its view around")


def lines():
    out = sys.stdout.buffer
    out.write(HDR)
    out.flush()
    for line in iter(sys.stdin.buffer.readline, b""):
        line = line.rstrip(b"\n")
        out.write(frame(bytes([1, 0]) + line))
        out.flush()


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "frame":
        return lines()
    if len(sys.argv) < 3:
        sys.exit("usage: mutate.py frame | KIND log [other]")
    kind, recs = sys.argv[1], records(sys.argv[2])
    i = pick(recs)
    r = recs[i]
    sys.stderr.write("%d %d %016x %d %d\n" % (i + 1, u64(r, 0), u64(r, 8),
                                              u64(r, 16), u64(r, 24)))
    tail = b""
    if kind == "delete":
        del recs[i]
    elif kind == "dup":
        recs.insert(i + 1, bytearray(r))
    elif kind == "swap":
        recs[i], recs[i + 1] = recs[i + 1], recs[i]
    elif kind == "sender":
        set64(r, 8, STRANGER)
    elif kind == "seq":
        set64(r, 16, u64(r, 16) + 1000)
    elif kind == "gseq":
        set64(r, 24, u64(r, 24) + 1000)
    elif kind == "view":
        set64(r, 0, u64(r, 0) + 1000)
    elif kind == "viewrec":
        v = max(j for j in range(i) if recs[j][0] == 2)
        set64(recs[v], 0, u64(recs[v], 0) + 1000)
        sys.stderr.write("%d %d\n" % (v + 1, u64(recs[v], 0)))
    elif kind == "payload":
        r.append(ord("!"))
    elif kind == "splice":
        if len(sys.argv) != 4:
            sys.exit("mutate.py: splice needs the other log")
        recs = recs[:i + 1] + records(sys.argv[3])
    elif kind == "head":
        recs = recs[:i + 1]
    elif kind == "cut":
        tail = frame(r)[:len(r) // 2 + 3]
        recs = recs[:i]
    else:
        sys.exit("mutate.py: %s: unknown kind" % kind)
    out = sys.stdout.buffer
    out.write(HDR + b"".join(frame(x) for x in recs) + tail)


if __name__ == "__main__":
    main()
