#!/usr/bin/env python3
"""check.py: the soak's judge.  Reads only a run directory: the member logs
(to-frame(5) streams written by torecv -F and tocast -F -r), the senders'
inputs and the schedule log, and checks the guarantees of to(7).  Written
from the man pages alone, apart from lib/verify.c and cmd/toview.c, so that
a bug shared with those cannot hide here.

usage: check.py [-n LINES] DIR ...	judge runs; exit 1 on any violation
       check.py --table DIR ...		the figures of judged runs

A run directory holds, for member incarnation K of host H:
  hH-rK.log	a receiver's log (torecv -F)
  hH-cK.log	a sender's echo (tocast -F -r) and hH-cK.in its input, one
		payload a line (a marker line has a tab and the time it was
		written)
  schedule.jsonl	soak.sh's events (optional: without it, liveness is not
		judged and no sender counts as killed)
  marks-seen.jsonl	when each marker first showed in each log

Views are told apart by (view id, flags, members): the two sides of a
partition may install views with the same id.  A DATA record belongs to the
last VIEW record before it in its log.  A VIEW record with flags bit 0x1 is
transitional: the members of the closing view that go on together; the
DATA records after it are the closing view's flush, and their senders must
be members of that closing view (the last regular view before it).

Each violation is one line: CLASS log=... rec=... view=... sender=...
seq=... gseq=... payload=...: what is wrong.  At most -n lines (default
12) are printed per class and log; all are counted.
"""

import collections
import json
import os
import re
import struct
import sys

TRANSITIONAL = 0x1
MARKER_DEADLINE = 30.0
SENDER_EXIT = 30.0
TERM_EXIT = 2.0

LOGNAME = re.compile(r"^h(\d+)-([rc])(\d+)\.log$")


class Frame(Exception):
	pass


def parse(data):
	"""The records of one to-frame(5) stream, and the number of bytes
	left over at the end (a record or header cut short)."""
	recs = []
	if not data:
		return recs, 0
	if len(data) < 8:
		return recs, len(data)
	if data[:4] != b"TOFR":
		raise Frame("bad magic %r" % data[:4])
	ver, flags = struct.unpack(">HH", data[4:8])
	if ver != 1:
		raise Frame("version %d" % ver)
	if flags != 0:
		raise Frame("header flags %#x" % flags)
	off = 8
	n = len(data)
	while off < n:
		if n - off < 4:
			return recs, n - off
		(l,) = struct.unpack_from(">I", data, off)
		if l < 2:
			raise Frame("record %d: L %d < 2" % (len(recs) + 1, l))
		if n - off - 4 < l:
			return recs, n - off
		typ = data[off + 4]
		m = data[off + 5]
		if l < m + 2:
			raise Frame("record %d: L %d < M %d + 2" %
			    (len(recs) + 1, l, m))
		meta = data[off + 6:off + 6 + m]
		payload = data[off + 6 + m:off + 4 + l]
		off += 4 + l
		i = len(recs) + 1
		if typ == 1:
			if m < 32:
				raise Frame("record %d: DATA with %d bytes of "
				    "metadata" % (i, m))
			v, s, q, g = struct.unpack_from(">QQQQ", meta)
			recs.append(("D", v, s, q, g, payload))
		elif typ == 2:
			if m < 12:
				raise Frame("record %d: VIEW with %d bytes of "
				    "metadata" % (i, m))
			v, cnt = struct.unpack_from(">QI", meta)
			fl = 0
			if m >= 16:
				(fl,) = struct.unpack_from(">I", meta, 12)
			if len(payload) != cnt * 8:
				raise Frame("record %d: VIEW of %d members with "
				    "%d bytes" % (i, cnt, len(payload)))
			mem = struct.unpack(">%dQ" % cnt, payload)
			recs.append(("V", v, fl, mem))
		else:
			raise Frame("record %d: type %d" % (i, typ))
	return recs, 0


def hexid(x):
	return "%016x" % x


def vname(key):
	if key is None:
		return "-"
	v, fl, mem = key
	return "%d/%x/%s" % (v, fl, ",".join(("%x" % m)[:8] for m in mem))


def short(p):
	s = p.decode("utf-8", "replace") if isinstance(p, bytes) else p
	return s if len(s) <= 40 else s[:37] + "..."


class Run:
	def __init__(self, d, maxlines):
		self.pairs = {}	# sender id -> its own consecutive views
		self.d = d
		self.maxlines = maxlines
		self.count = collections.Counter()
		self.printed = collections.Counter()
		self.lines = []
		self.stats = {}

	def bad(self, cls, log="-", rec="-", view=None, sender=None,
	    seq="-", gseq="-", payload=None, why=""):
		self.count[cls] += 1
		k = (cls, log)
		self.printed[k] += 1
		if self.printed[k] > self.maxlines:
			return
		self.lines.append("%s %s log=%s rec=%s view=%s sender=%s "
		    "seq=%s gseq=%s payload=%s: %s" % (cls, self.d, log, rec,
		    vname(view), hexid(sender) if sender is not None else "-",
		    seq, gseq, short(payload) if payload is not None else "-",
		    why))

	def report(self):
		out = list(self.lines)
		for (cls, log), n in sorted(self.printed.items()):
			if n > self.maxlines:
				out.append("%s %s log=%s: ... and %d more" %
				    (cls, self.d, log, n - self.maxlines))
		return out

	# -- inputs, schedule --------------------------------------------

	def load(self):
		d = self.d
		self.logs = {}		# name -> records
		self.trunc = {}
		self.inputs = {}	# proc -> [payload bytes]
		self.where = {}		# payload -> (proc, index)
		self.marktime = {}	# payload -> time written
		self.sched = []
		names = sorted(os.listdir(d))
		try:
			with open(os.path.join(d, "schedule.jsonl")) as f:
				for l in f:
					l = l.strip()
					if l:
						self.sched.append(json.loads(l))
		except FileNotFoundError:
			pass
		self.killed = set()
		for e in self.sched:
			if e.get("ev") == "kill":
				self.killed.add(e["log"][:-4])
			if e.get("ev") == "hung":
				self.killed.add(e["log"][:-4] + "!hung")
		for name in names:
			if not LOGNAME.match(name):
				continue
			proc = name[:-4]
			if name[proc.index("-") + 1] == "c":
				self.load_input(proc)
		for name in names:
			if not LOGNAME.match(name):
				continue
			with open(os.path.join(d, name), "rb") as f:
				data = f.read()
			try:
				recs, left = parse(data)
			except Frame as e:
				self.bad("frame", name, why=str(e))
				recs, left = [], 0
			proc = name[:-4]
			if left:
				if proc in self.killed or \
				    proc + "!hung" in self.killed:
					self.trunc[name] = left
				else:
					self.bad("frame", name, len(recs) + 1,
					    why="stream ends %d bytes into a "
					    "record" % left)
			self.logs[name] = recs

	def load_input(self, proc):
		path = os.path.join(self.d, proc + ".in")
		ps = []
		try:
			with open(path, "rb") as f:
				for l in f:
					if not l.endswith(b"\n"):
						break	# cut short by a kill
					l = l[:-1]
					if b"\t" in l:
						p, t = l.split(b"\t", 1)
						self.marktime[p] = float(t)
						l = p
					ps.append(l)
		except FileNotFoundError:
			# killed before its feeder started: it cast nothing
			if proc not in self.killed:
				self.bad("input", proc + ".log",
				    why="no input file")
		for i, p in enumerate(ps):
			if p in self.where:
				self.bad("input", proc + ".in", i + 1, payload=p,
				    why="payload also in %s" % self.where[p][0])
				continue
			self.where[p] = (proc, i)
		self.inputs[proc] = ps

	# -- member ids ---------------------------------------------------

	def ids(self):
		"""Each sender process's member id: the id its own deliveries
		carry, which must be in every view of its own log and the same
		in every log; no two processes may share one."""
		self.cands = {}
		for name, recs in self.logs.items():
			c = None
			for r in recs:
				if r[0] == "V":
					c = set(r[3]) if c is None else c & set(r[3])
			self.cands[name[:-4]] = c
		seen = collections.defaultdict(collections.Counter)
		own = collections.defaultdict(collections.Counter)
		for name, recs in self.logs.items():
			for r in recs:
				if r[0] != "D" or r[5] not in self.where:
					continue
				p = self.where[r[5]][0]
				seen[p][r[2]] += 1
				if p == name[:-4]:
					own[p][r[2]] += 1
		self.idof = {}
		for p, c in seen.items():
			src = own[p] if own[p] else c
			self.idof[p] = src.most_common(1)[0][0]
		self.procof = {}
		for p, i in sorted(self.idof.items()):
			if i in self.procof:
				self.bad("sender-id", p + ".log", sender=i,
				    why="same member id as %s" % self.procof[i])
			else:
				self.procof[i] = p
			c = self.cands.get(p)
			if c is not None and i not in c:
				self.bad("sender-id", p + ".log", sender=i,
				    why="its messages carry an id that is not in "
				    "every view of its own log")

	def exit_ok(self, p, status):
		"""0, or 3 from a member that said on stderr that its stream
		has a gap (torecv(1), tocast(1): a view that cut it off alone
		or merged back members it was apart from, or a flush that
		left messages undelivered)."""
		if status == 0:
			return True
		if status != 3:
			return False
		try:
			with open(os.path.join(self.d, p + ".err"),
			    errors="replace") as f:
				err = f.read()
		except OSError:
			return False
		return ("cut off alone" in err or " merges " in err or
		    " not delivered here" in err)

	# -- one log ------------------------------------------------------

	def apart(self, sender, ka, kb):
		"""Whether the sender went from view ka to view kb through
		views this member was not in, as its own log shows: then what
		it delivered in those is rightly missing here (the member was
		cut off from its side, though no view here left it out)."""
		if ka is None or kb is None or ka == kb:
			return False
		proc = self.procof.get(sender)
		recs = self.logs.get(proc + ".log") if proc else None
		if not recs:
			return False
		if sender not in self.pairs:
			vs = [(r[1], r[2], r[3]) for r in recs if r[0] == "V"]
			self.pairs[sender] = set(zip(vs, vs[1:]))
		return (ka, kb) not in self.pairs[sender]

	def one(self, name, recs):
		owner = name[:-4]
		seenp = {}
		last = {}	# sender -> (seq, input index, rec)
		excl = set()	# senders left out by a view since their last
		view = None	# (key, members that may send in it)
		regular = None
		vprev = None	# gseq of the last delivery in this view
		views = []	# [(key, [payloads])]
		order = []
		info = {}	# payload -> (view key, sender, seq, gseq)
		for i, r in enumerate(recs, 1):
			if r[0] == "V":
				_, v, fl, mem = r
				key = (v, fl, mem)
				if len(set(mem)) != len(mem):
					self.bad("view", name, i, key,
					    why="a member listed twice")
				vids = {v}
				if fl & TRANSITIONAL:
					senders = set(regular[1]) if regular \
					    is not None else set(mem)
					if regular is not None:
						vids.add(regular[0])
				else:
					senders = set(mem)
					regular = (v, mem)
				view = (key, senders, vids)
				vprev = None
				views.append((key, []))
				for s in last:
					if s not in mem:
						excl.add(s)
				continue
			_, v, s, q, g, p = r
			self.deliveries += 1
			key = view[0] if view else None
			if view is None:
				self.bad("no-view", name, i, None, s, q, g, p,
				    "DATA before any VIEW record")
			elif v not in view[2]:
				self.bad("view-id", name, i, key, s, q, g, p,
				    "DATA names view %d" % v)
			if p in seenp:
				self.bad("duplicate", name, i, key, s, q, g, p,
				    "also record %d" % seenp[p])
				continue
			seenp[p] = i
			info[p] = (key, s, q, g)
			order.append(p)
			if views:
				views[-1][1].append(p)
			# same view, same gseq, same message, everywhere;
			# gseq 0 is a flush's delivery, unnumbered (to(7))
			if key is not None and g == 0:
				if s not in view[1]:
					self.bad("not-member", name, i, key, s,
					    q, g, p, "sender not a member of "
					    "the view it is delivered in")
			elif key is not None:
				gm = self.gmap.setdefault(key, {})
				o = gm.get(g)
				if o is None:
					gm[g] = (p, name, i)
				elif o[0] != p:
					self.bad("view-gseq", name, i, key, s, q,
					    g, p, "%s record %d has %s at this "
					    "gseq in this view" % (o[1], o[2],
					    short(o[0])))
				pm = self.pmap.setdefault(key, {})
				o = pm.get(p)
				if o is None:
					pm[p] = (g, name, i)
				elif o[0] != g:
					self.bad("view-gseq", name, i, key, s, q,
					    g, p, "%s record %d delivers it at "
					    "gseq %d in this view" % (o[1], o[2],
					    o[0]))
				if vprev is not None and g != vprev + 1:
					self.bad("gseq", name, i, key, s, q, g, p,
					    "gseq after %d in the same view" %
					    vprev)
				vprev = g
				if s not in view[1]:
					self.bad("not-member", name, i, key, s,
					    q, g, p, "sender not a member of "
					    "the view it is delivered in")
			# nothing invented
			w = self.where.get(p)
			if w is None:
				self.bad("invented", name, i, key, s, q, g, p,
				    "in no sender's input")
				continue
			proc, idx = w
			if self.idof.get(proc) != s:
				self.bad("sender-id", name, i, key, s, q, g, p,
				    "input of %s, whose id is %s" % (proc,
				    hexid(self.idof.get(proc, 0))))
			if q != idx + 1:
				self.bad("seq", name, i, key, s, q, g, p,
				    "record %d of its sender's input" %
				    (idx + 1))
			# sender order, no gap
			own = proc == owner
			lq = last.get(s)
			if lq is None:
				if own and idx != 0:
					self.bad("own-gap", name, i, key, s, q,
					    g, p, "own echo starts at input "
					    "record %d" % (idx + 1))
			elif q <= lq[0] or idx <= lq[1]:
				self.bad("sender-order", name, i, key, s, q, g,
				    p, "after seq %d (record %d)" % (lq[0],
				    lq[2]))
			elif q != lq[0] + 1 or idx != lq[1] + 1:
				if own:
					self.bad("own-gap", name, i, key, s, q,
					    g, p, "own echo skips from seq %d "
					    "(record %d)" % (lq[0], lq[2]))
				elif s not in excl and not \
				    self.apart(s, lq[3], key):
					self.bad("gap", name, i, key, s, q, g, p,
					    "skips from seq %d (record %d), no "
					    "view without the sender between" %
					    (lq[0], lq[2]))
			if lq is None or q > lq[0]:
				last[s] = (q, idx, i, key)
				excl.discard(s)
		self.order[name] = order
		self.recidx[name] = seenp
		self.info[name] = info
		self.views[name] = views

	# -- across logs --------------------------------------------------

	def total(self):
		names = sorted(self.order)
		pos = {n: {p: i for i, p in enumerate(self.order[n])}
		    for n in names}
		for a in range(len(names)):
			A = names[a]
			for b in range(a + 1, len(names)):
				B = names[b]
				pb = pos[B]
				seq = [(pb[p], p) for p in self.order[A] if p in pb]
				hi = -1
				hip = None
				first = None
				inv = 0
				for j, p in seq:
					if j < hi:
						inv += 1
						if first is None:
							first = (p, hip)
					else:
						hi, hip = j, p
				if first:
					p, q = first
					k, s_, q_, g_ = self.info[A][p]
					kb = self.info[B][p]
					self.bad("total-order", A,
					    self.recidx[A][p], k, s_, q_, g_,
					    p, "%s (record %d, view %s, gseq "
					    "%d) delivers it before %s, %s "
					    "after (%d of %d common out of "
					    "order)" % (B, self.recidx[B][p],
					    vname(kb[0])[:24], kb[3], short(q),
					    A, inv, len(seq)))

	def vsync(self):
		"""Logs that install the same two consecutive views deliver the
		same messages between them."""
		seg = collections.defaultdict(list)
		for name, views in self.views.items():
			for k in range(len(views) - 1):
				seg[(views[k][0], views[k + 1][0])].append(
				    (name, set(views[k][1])))
		for (k1, k2), ls in seg.items():
			if len(ls) < 2:
				continue
			n0, s0 = ls[0]
			for n, s in ls[1:]:
				if s == s0:
					continue
				miss = s0 - s
				extra = s - s0
				ex = sorted(miss or extra)[0]
				self.bad("vsync", n, view=k1, payload=ex,
				    why="between views %s and %s: %d of %s's "
				    "missing, %d not in %s" % (vname(k1)[:30],
				    vname(k2)[:30], len(miss), n0, len(extra),
				    n0))

	def complete(self):
		"""A sender never killed delivers all its input in its echo."""
		early = {e["log"][:-4] for e in self.sched
		    if e.get("ev") == "exit" and e.get("why") == "unexpected"}
		for proc, ps in sorted(self.inputs.items()):
			if proc in self.killed:
				continue
			if proc in early:
				# it ended on its own (judged as "exit"): only
				# what it says it cast must be in its echo
				n = None
				try:
					with open(os.path.join(self.d, proc +
					    ".err"), errors="replace") as f:
						for l in f:
							m = re.search(r"sent (\d+) "
							    "records", l)
							if m:
								n = int(m.group(1))
				except FileNotFoundError:
					pass
				if n is None:
					continue
				ps = ps[:n]
			name = proc + ".log"
			have = set(self.order.get(name, ()))
			for i, p in enumerate(ps):
				if p not in have:
					self.bad("lost", name, payload=p,
					    seq=i + 1, why="input record %d of "
					    "a sender never killed is not in its "
					    "own echo" % (i + 1))

	def liveness(self):
		if not self.sched:
			return
		ev = self.sched
		t_of = {}
		live = []
		exits = {}
		term = {}
		hung = set()
		for e in ev:
			k = e.get("ev")
			if k in ("faults-end", "markers", "input-end", "done",
			    "faults-start", "marks-stop"):
				t_of.setdefault(k, e["t"])
			if k == "markers":
				live = [l[:-4] for l in e.get("live", [])]
			if k == "exit":
				exits[e["log"][:-4]] = e
				if e.get("why") == "unexpected":
					self.bad("exit", e["log"], why="exited "
					    "%d on its own during the run" %
					    e["status"])
			if k == "term":
				term[e["log"][:-4]] = e["t"]
			if k == "hung":
				hung.add(e["log"][:-4])
				self.bad("liveness", e["log"], why=e["what"])
		if "done" not in t_of:
			self.bad("liveness", why="the soak did not finish "
			    "(no done event)")
		te = t_of.get("input-end")
		for p in live:
			x = exits.get(p)
			if p in hung:
				continue
			if x is None:
				self.bad("liveness", p + ".log", why="no exit "
				    "recorded")
				continue
			if "-c" in p:
				if te is None:
					continue
				if not self.exit_ok(p, x["status"]):
					self.bad("liveness", p + ".log", why="sender"
					    " exited %d after its input ended" %
					    x["status"])
				if x["t"] - te > SENDER_EXIT:
					self.bad("liveness", p + ".log", why="sender"
					    " exited %.1f s after its input ended"
					    % (x["t"] - te))
			elif p in term:
				if not self.exit_ok(p, x["status"]):
					self.bad("liveness", p + ".log", why="exit "
					    "%d after SIGTERM" % x["status"])
				if x["t"] - term[p] > TERM_EXIT:
					self.bad("liveness", p + ".log", why="exit "
					    "%.2f s after SIGTERM" %
					    (x["t"] - term[p]))
		# markers of the live senders, by every live member
		seen = {}
		try:
			with open(os.path.join(self.d, "marks-seen.jsonl")) as f:
				for l in f:
					try:
						j = json.loads(l)
					except ValueError:
						continue
					seen.setdefault((j["log"], j["payload"]),
					    j["t"])
		except FileNotFoundError:
			pass
		last = None
		want = [(p, t) for p, t in self.marktime.items()
		    if self.where[p][0] in live]
		if live and not want and any("-c" in p for p in live):
			self.bad("marker", why="no live sender cast a marker")
		for p in live:
			name = p + ".log"
			have = set(self.order.get(name, ()))
			for m, t in sorted(want):
				st = seen.get((name, m.decode()))
				if m not in have:
					self.bad("marker", name, payload=m,
					    why="marker never delivered")
				elif st is None or st - t > MARKER_DEADLINE:
					self.bad("marker", name, payload=m,
					    why="marker delivered after %s s" %
					    ("?" if st is None else
					    "%.1f" % (st - t)))
				if st is not None and (last is None or st > last):
					last = st
		if last is not None and "faults-end" in t_of:
			self.stats["fault_to_marker_s"] = round(
			    last - t_of["faults-end"], 2)

	def figures(self):
		kinds = collections.Counter()
		rss = 0
		for e in self.sched:
			k = e.get("ev")
			if k == "start" and e.get("inc", 1) > 1:
				kinds["restart"] += 1
			elif k == "kill":
				kinds["kill:" + ("rank0" if e.get("target") ==
				    "rank0" else "sender" if e.get("role") == "c"
				    else "receiver")] += 1
			elif k in ("stop", "cut", "starve"):
				kinds[k] += 1
			elif k == "loss" and e.get("pct"):
				kinds["loss"] += 1
			elif k == "config":
				self.stats["config"] = "%s %s %s %ss" % (
				    e["proto"], e["pack"], e["transport"],
				    e["duration"])
			if k == "exit":
				rss = max(rss, e.get("vmhwm_kb", 0))
		self.stats["faults"] = dict(kinds)
		self.stats["rss_kb"] = rss
		self.stats["deliveries"] = self.deliveries
		self.stats["violations"] = dict(self.count)

	def judge(self):
		self.deliveries = 0
		self.gmap = {}
		self.pmap = {}
		self.order = {}
		self.recidx = {}
		self.info = {}
		self.views = {}
		self.load()
		self.ids()
		for name, recs in sorted(self.logs.items()):
			self.one(name, recs)
		self.total()
		self.vsync()
		self.complete()
		self.liveness()
		self.figures()
		with open(os.path.join(self.d, "verdict.json"), "w") as f:
			json.dump(self.stats, f, sort_keys=True)
			f.write("\n")


def table(dirs):
	tot = collections.Counter()
	runs = bad = 0
	dl = 0
	rss = 0
	lag = []
	print("%-28s %-26s %9s %7s  %s" % ("run", "config", "delivered",
	    "viol", "violations by class"))
	for d in dirs:
		try:
			with open(os.path.join(d, "verdict.json")) as f:
				s = json.load(f)
		except (FileNotFoundError, ValueError):
			print("%-28s (no verdict)" % d)
			continue
		runs += 1
		v = s.get("violations", {})
		if v:
			bad += 1
		tot.update(s.get("faults", {}))
		dl += s.get("deliveries", 0)
		rss = max(rss, s.get("rss_kb", 0))
		if "fault_to_marker_s" in s:
			lag.append(s["fault_to_marker_s"])
		print("%-28s %-26s %9d %7d  %s" % (d[-28:], s.get("config", "?"),
		    s.get("deliveries", 0), sum(v.values()),
		    " ".join("%s:%d" % kv for kv in sorted(v.items())) or "ok"))
	print("runs %d, failing %d; deliveries checked %d" % (runs, bad, dl))
	print("faults: " + ", ".join("%s %d" % kv for kv in sorted(tot.items())))
	if lag:
		print("last fault to last marker: max %.1f s, mean %.1f s" %
		    (max(lag), sum(lag) / len(lag)))
	print("largest member RSS (VmHWM): %.1f MiB" % (rss / 1024.0))


def main(argv):
	maxlines = 12
	if argv[:1] == ["--table"]:
		table(argv[1:])
		return 0
	if argv[:1] == ["-n"] and len(argv) > 1:
		maxlines = int(argv[1])
		argv = argv[2:]
	if not argv:
		print(__doc__.split("\n\n")[1], file=sys.stderr)
		return 64
	total = collections.Counter()
	dl = 0
	for d in argv:
		r = Run(d.rstrip("/"), maxlines)
		r.judge()
		for l in r.report():
			print(l)
		total.update(r.count)
		dl += r.deliveries
	n = sum(total.values())
	print("runs %d, deliveries checked %d, violations %d%s" % (len(argv),
	    dl, n, (": " + ", ".join("%s %d" % kv for kv in
	    sorted(total.items()))) if n else ""))
	return 1 if n else 0


if __name__ == "__main__":
	sys.exit(main(sys.argv[1:]))
