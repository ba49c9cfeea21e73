#!/usr/bin/env python3
"""check_test.py: check.py must accept correct hand-made runs and reject
doctored ones, each for the right reason.  python3 test/soak/check_test.py
"""

import os
import shutil
import struct
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check  # noqa: E402

A, B, C, D = 0xA1, 0xB2, 0xC3, 0xD4


def view(v, mem, flags=None):
	if flags is None:
		meta = struct.pack(">QI", v, len(mem))
	else:
		meta = struct.pack(">QII", v, len(mem), flags)
	body = bytes([2, len(meta)]) + meta + b"".join(
	    struct.pack(">Q", m) for m in mem)
	return struct.pack(">I", len(body)) + body


def data(v, s, q, g, p, extra=b""):
	meta = struct.pack(">QQQQ", v, s, q, g) + extra
	body = bytes([1, len(meta)]) + meta + p
	return struct.pack(">I", len(body)) + body


def stream(recs):
	return b"TOFR\0\1\0\0" + b"".join(recs)


# Senders: h2-c1 (id B) casts b1..b6, h3-c1 (id C) casts c1..c4.
INB = [b"h2-s1-%d" % i for i in range(1, 7)]
INC = [b"h3-s1-%d" % i for i in range(1, 5)]
# The order of the group: (sender, seq, payload), gseq = position + 1.
ORDER = [(B, 1, INB[0]), (C, 1, INC[0]), (B, 2, INB[1]), (B, 3, INB[2]),
    (C, 2, INC[1]), (B, 4, INB[3])]
ORDER2 = [(C, 3, INC[2]), (B, 5, INB[4]), (B, 6, INB[5]), (C, 4, INC[3])]


def good():
	"""Three members install view 1, deliver 6 messages, view 2 (same
	members), 4 more."""
	recs = [view(1, [A, B, C])]
	for g, (s, q, p) in enumerate(ORDER, 1):
		recs.append(data(1, s, q, g, p))
	recs.append(view(2, [A, B, C]))
	for g, (s, q, p) in enumerate(ORDER2, 7):
		recs.append(data(2, s, q, g, p))
	return recs


class T(unittest.TestCase):
	def setUp(self):
		self.d = tempfile.mkdtemp(prefix="check_test.")

	def tearDown(self):
		shutil.rmtree(self.d)

	def run_dir(self, logs, inputs=None):
		inputs = inputs or {"h2-c1": INB, "h3-c1": INC}
		for name, recs in logs.items():
			with open(os.path.join(self.d, name + ".log"), "wb") as f:
				f.write(stream(recs) if isinstance(recs, list)
				    else recs)
		for name, ps in inputs.items():
			with open(os.path.join(self.d, name + ".in"), "wb") as f:
				f.write(b"".join(p + b"\n" for p in ps))
		r = check.Run(self.d, 100)
		r.judge()
		self.report = "\n".join(r.report())
		return r.count

	def three(self, r1=None, b=None, c=None):
		return {"h1-r1": r1 if r1 is not None else good(),
		    "h2-c1": b if b is not None else good(),
		    "h3-c1": c if c is not None else good()}

	def ok(self, logs, inputs=None):
		n = self.run_dir(logs, inputs)
		self.assertEqual(dict(n), {}, self.report)

	def rejects(self, cls, logs, inputs=None):
		n = self.run_dir(logs, inputs)
		self.assertIn(cls, n, "%s not found; got %s\n%s" % (cls,
		    dict(n), self.report))

	# -- accepted ----------------------------------------------------

	def test_good(self):
		self.ok(self.three())

	def test_empty_log(self):
		self.ok({"h1-r1": b"", "h2-c1": good(), "h3-c1": good()})

	def test_longer_metadata_skipped(self):
		recs = [view(1, [A, B, C], 0)]
		for g, (s, q, p) in enumerate(ORDER + ORDER2, 1):
			recs.append(data(1, s, q, g, p, b"\0" * 8))
		logs = {"h1-r1": recs, "h2-c1": recs, "h3-c1": recs}
		self.ok(logs)

	def test_gap_across_exclusion(self):
		"""r1 loses B for view 2 (B cut off) and sees B again in 3:
		the gap in B's stream is allowed at r1."""
		r1 = [view(1, [A, B, C])]
		for g, (s, q, p) in enumerate(ORDER, 1):
			r1.append(data(1, s, q, g, p))
		r1.append(view(2, [A, C]))
		r1.append(data(2, C, 3, 7, INC[2]))
		r1.append(view(3, [A, C, B]))
		r1.append(data(3, B, 6, 8, INB[5]))
		r1.append(data(3, C, 4, 9, INC[3]))
		b = [view(1, [A, B, C])]
		for g, (s, q, p) in enumerate(ORDER, 1):
			b.append(data(1, s, q, g, p))
		b.append(view(2, [B]))
		b.append(data(2, B, 5, 7, INB[4]))
		b.append(view(3, [A, C, B]))
		b.append(data(3, B, 6, 8, INB[5]))
		b.append(data(3, C, 4, 9, INC[3]))
		self.ok({"h1-r1": r1, "h2-c1": b, "h3-c1": r1})

	def test_partition_same_view_id(self):
		"""The two sides install view 2 with other members and reuse
		gseq 7: two views, no conflict."""
		r1 = [view(1, [A, B, C])]
		for g, (s, q, p) in enumerate(ORDER, 1):
			r1.append(data(1, s, q, g, p))
		r1.append(view(2, [A, C]))
		r1.append(data(2, C, 3, 7, INC[2]))
		r1.append(data(2, C, 4, 8, INC[3]))
		b = [view(1, [A, B, C])]
		for g, (s, q, p) in enumerate(ORDER, 1):
			b.append(data(1, s, q, g, p))
		b.append(view(2, [B]))
		b.append(data(2, B, 5, 7, INB[4]))
		b.append(data(2, B, 6, 8, INB[5]))
		self.ok({"h1-r1": r1, "h2-c1": b, "h3-c1": r1})

	def test_transitional_flush(self):
		"""B fails: A and C install transitional view 2 (flags 1) and
		deliver B's last message in it as the closing view's flush."""
		r = [view(1, [A, B, C])]
		for g, (s, q, p) in enumerate(ORDER, 1):
			r.append(data(1, s, q, g, p))
		r.append(view(2, [A, C], 1))
		r.append(data(2, B, 5, 7, INB[4]))
		r.append(view(2, [A, C], 0))
		r.append(data(2, C, 3, 8, INC[2]))
		r.append(data(2, C, 4, 9, INC[3]))
		with open(os.path.join(self.d, "schedule.jsonl"), "w") as f:
			f.write('{"t": 1, "ev": "kill", "log": "h2-c1.log"}\n')
		b = [view(1, [A, B, C])]
		for g, (s, q, p) in enumerate(ORDER, 1):
			b.append(data(1, s, q, g, p))
		logs = {"h1-r1": r, "h3-c1": r, "h2-c1": b}
		n = self.run_dir(logs)
		# liveness is judged too: no done event in this schedule
		self.assertEqual(set(n), {"liveness"}, self.report)

	def test_transitional_flush_closing_id(self):
		"""The flush may name the closing view's id instead."""
		r = good()
		r.append(view(3, [A, B], 1))
		with open(os.path.join(self.d, "schedule.jsonl"), "w") as f:
			f.write('{"t": 1, "ev": "kill", "log": "h3-c1.log"}\n'
			    '{"t": 2, "ev": "done"}\n')
		c = good()[:-1]
		r[-2:-1] = []		# C's 4 only in the flush
		r.append(data(2, C, 4, 10, INC[3]))
		self.ok({"h1-r1": r, "h2-c1": r, "h3-c1": c})

	# -- rejected ----------------------------------------------------

	def test_view_id(self):
		r1 = good()
		r1[8] = data(1, C, 3, 7, INC[2])
		self.rejects("view-id", self.three(r1))

	def test_deleted_record(self):
		r1 = good()
		del r1[4]		# B's seq 3
		self.rejects("gap", self.three(r1))
		self.rejects("vsync", self.three(r1))

	def test_deleted_own(self):
		b = good()
		del b[4]
		self.rejects("own-gap", self.three(b=b))
		self.rejects("lost", self.three(b=b))

	def test_deleted_own_tail(self):
		b = good()[:-2]
		self.rejects("lost", self.three(b=b))

	def test_swapped(self):
		r1 = good()
		r1[2], r1[3] = r1[3], r1[2]	# C1 before B1
		self.rejects("total-order", self.three(r1))

	def test_swapped_keeping_gseq(self):
		"""Swap two messages of different senders and renumber their
		gseqs so the log is consecutive: still caught."""
		r1 = good()
		r1[2] = data(1, B, 2, 2, INB[1])
		r1[3] = data(1, C, 1, 3, INC[0])
		self.rejects("view-gseq", self.three(r1))
		self.rejects("total-order", self.three(r1))

	def test_duplicate(self):
		r1 = good()
		r1.insert(5, r1[4])
		self.rejects("duplicate", self.three(r1))

	def test_wrong_gseq(self):
		r1 = good()
		r1[3] = data(1, B, 2, 9, INB[1])
		self.rejects("view-gseq", self.three(r1))
		self.rejects("gseq", self.three(r1))

	def test_sender_not_in_view(self):
		r1 = good()
		r1[7] = view(2, [A, C])		# B's 5 and 6 follow
		self.rejects("not-member", self.three(r1))

	def test_invented(self):
		r1 = good()
		r1.append(data(2, B, 7, 11, b"h2-s1-7"))
		self.rejects("invented", self.three(r1))

	def test_wrong_sender(self):
		r1 = good()
		r1[1] = data(1, C, 1, 1, INB[0])
		self.rejects("sender-id", self.three(r1))

	def test_wrong_seq(self):
		r1 = good()
		r1[1] = data(1, B, 7, 1, INB[0])
		self.rejects("seq", self.three(r1))

	def test_reordered_sender(self):
		"""B's 2 and 3 swapped in every log: total order holds, sender
		order does not."""
		g = good()
		g[3] = data(1, B, 3, 3, INB[2])
		g[4] = data(1, B, 2, 4, INB[1])
		self.rejects("sender-order", self.three(g, g, g))

	def test_data_before_view(self):
		r1 = good()
		r1.insert(0, data(1, B, 1, 1, INB[0]))
		self.rejects("no-view", self.three(r1))

	def test_truncated(self):
		s = stream(good())[:-3]
		self.rejects("frame", self.three(s))

	def test_bad_magic(self):
		s = b"TOFX" + stream(good())[4:]
		self.rejects("frame", self.three(s))

	def test_short_data_metadata(self):
		bad = struct.pack(">I", 2 + 8 + 2) + bytes([1, 8]) + b"\0" * 8 \
		    + b"hi"
		self.rejects("frame", self.three(good() + [bad]))

	def test_transitional_sender_not_in_closing(self):
		"""A flush may only hold messages of the closing view's
		members: D never was one."""
		r = good()
		r.append(view(3, [A, C], 1))
		r.append(data(3, D, 1, 11, b"h4-s1-1"))
		self.rejects("not-member", self.three(r),
		    {"h2-c1": INB, "h3-c1": INC, "h4-c1": [b"h4-s1-1"]})

	def test_vsync_subset(self):
		"""r1 delivers fewer of view 1 and then installs view 2 like
		the others: caught even with gseqs made consecutive."""
		r1 = [view(1, [A, B, C])]
		for g, (s, q, p) in enumerate(ORDER[:4], 1):
			r1.append(data(1, s, q, g, p))
		r1.append(view(2, [A, B, C]))
		for g, (s, q, p) in enumerate(ORDER2, 7):
			r1.append(data(2, s, q, g, p))
		self.rejects("vsync", self.three(r1))

	def test_liveness_hung(self):
		with open(os.path.join(self.d, "schedule.jsonl"), "w") as f:
			f.write('{"t": 1, "ev": "markers", "live": ["h2-c1.log"]}\n'
			    '{"t": 2, "ev": "input-end"}\n'
			    '{"t": 40, "ev": "hung", "pid": 5, "log": "h2-c1.log",'
			    ' "what": "no exit"}\n'
			    '{"t": 41, "ev": "exit", "pid": 5, "log": "h2-c1.log",'
			    ' "status": 137, "why": "input-end"}\n'
			    '{"t": 42, "ev": "done"}\n')
		self.rejects("liveness", self.three())


if __name__ == "__main__":
	unittest.main(verbosity=1)
