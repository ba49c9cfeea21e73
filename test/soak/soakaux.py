#!/usr/bin/env python3
"""soakaux.py: the soak's helpers, called by soak.sh.  Not the judge:
check.py is, and it shares no code with this file.

  soakaux.py plan SEED DURATION	the run's configuration and its fault
				schedule, one shell-friendly line each
  soakaux.py feed DIR HOST INC SEED	framed DATA records on stdout for a
				tocast -F; each payload also goes, before it is
				written, to DIR/hHOST-cINC.in
  soakaux.py watch DIR		note when each marker first shows in each
				member log (DIR/marks-seen.jsonl)
  soakaux.py marks-done DIR	exit 0 once every live member has every
				marker of every live sender
  soakaux.py rank0 DIR		"HOST ROLE" of the live member that is most
				likely rank 0 of the newest view (from the
				-v stderr lines), or nothing

Payloads are hHOST-sINC-N (data) and hHOST-sINC-mark-K (markers), with an
optional ':' and padding, unique across a run.  The .in file holds one
payload a line; a marker line has a tab and the time it was written.
"""

import json
import os
import random
import re
import struct
import sys
import time

PROTOS = ["totem", "tomfc", "total", "dynord", "dynseq", "dysfc"]
PACKS = ["adaptive", "off", "1ms"]
TRANSPORTS = ["udp", "udpu"]
KINDS = ["kill", "stop", "cut", "loss", "starve"]


def env_list(name, default):
	v = os.environ.get(name, "")
	return v.split(",") if v else default


def plan(seed, duration):
	"""Print config lines then events "T VERB ID ARGS", T in seconds from
	the start of the faults, sorted.  Overrides from the environment:
	PROTO, PACK, TRANSPORT, HOSTS, SENDERS (count), FAULTS (kinds),
	RATE (mean seconds between faults)."""
	rnd = random.Random(seed)
	proto = os.environ.get("PROTO") or rnd.choice(PROTOS)
	pack = os.environ.get("PACK") or rnd.choice(PACKS)
	transport = os.environ.get("TRANSPORT") or rnd.choice(TRANSPORTS)
	hosts = int(os.environ.get("HOSTS") or 5)
	nsend = int(os.environ.get("SENDERS") or rnd.randint(2, min(4, hosts)))
	nsend = max(1, min(nsend, hosts))
	senders = sorted(rnd.sample(range(1, hosts + 1), nsend))
	kinds = env_list("FAULTS", KINDS)
	rate = float(os.environ.get("RATE") or 2.5)
	print("config proto %s" % proto)
	print("config pack %s" % pack)
	print("config transport %s" % transport)
	print("config hosts %d" % hosts)
	print("config senders %s" % ",".join(map(str, senders)))
	ev = []
	n = 0
	t = 1.0 + rnd.random() * 2
	part_free = 0.0			# one partition at a time
	loss_free = {h: 0.0 for h in range(1, hosts + 1)}
	starve_free = {h: 0.0 for h in range(1, hosts + 1)}
	last = duration - 4.0		# every fault is over by then
	while t < last and kinds:
		kind = rnd.choice(kinds)
		n += 1
		fid = "f%d" % n
		h = rnd.randint(1, hosts)
		if kind == "kill":
			what = rnd.random()
			if what < 0.25:
				tgt = "rank0"
			elif what < 0.6 and senders:
				tgt = "h%dc" % rnd.choice(senders)
			else:
				tgt = "h%dr" % h
			ev.append((t, "kill %s %s" % (fid, tgt)))
			if rnd.random() < 0.85 or tgt.endswith("c"):
				rt = min(t + 0.5 + rnd.random() * 5, last)
				ev.append((rt, "restart %s" % fid))
		elif kind == "stop":
			what = rnd.random()
			if what < 0.2:
				tgt = "rank0"
			elif what < 0.65 and senders:
				tgt = "h%dc" % rnd.choice(senders)
			else:
				tgt = "h%dr" % h
			d = 1.5 + rnd.random() * 6.5
			tgts = [tgt]
			if rnd.random() < 0.3 and hosts > 2:
				# two stopped together: woken, they merge with
				# each other, then with the rest (gaps.bats)
				tgts.append("h%dr" % rnd.choice([x for x in
				    range(1, hosts + 1) if "h%dr" % x != tgt]))
			for k, tg in enumerate(tgts):
				f = fid + "abc"[k] if k else fid
				ev.append((t, "stop %s %s" % (f, tg)))
				ev.append((min(t + d, last), "cont %s" % f))
		elif kind == "cut":
			if t < part_free or hosts < 2:
				continue
			side = sorted(rnd.sample(range(1, hosts + 1),
			    max(1, hosts * 2 // 5)))
			rest = [i for i in range(1, hosts + 1) if i not in side]
			d = 5 + rnd.random() * 10
			end = min(t + d, last)
			ev.append((t, "cut %s %s %s" % (fid,
			    ",".join(map(str, side)), ",".join(map(str, rest)))))
			ev.append((end, "heal %s" % fid))
			part_free = end + 0.5
		elif kind == "loss":
			hs = [h]
			if rnd.random() < 0.4 and hosts > 1:
				hs = rnd.sample(range(1, hosts + 1), 2)
			hs = [x for x in hs if loss_free[x] <= t]
			if not hs:
				continue
			pct = rnd.randint(10, 30)
			end = min(t + 3 + rnd.random() * 7, last)
			for x in hs:
				ev.append((t, "loss %s %d %d" % (fid, x, pct)))
				ev.append((end, "loss %s %d 0" % (fid, x)))
				loss_free[x] = end + 0.5
		elif kind == "starve":
			if starve_free[h] > t:
				continue
			pct = rnd.randint(2, 10)
			end = min(t + 3 + rnd.random() * 7, last)
			ev.append((t, "starve %s %d %d" % (fid, h, pct)))
			ev.append((end, "unstarve %s %d" % (fid, h)))
			starve_free[h] = end + 0.5
		t += rnd.expovariate(1.0 / rate)
	ev.sort(key=lambda e: e[0])
	for t, e in ev:
		print("%.2f %s" % (t, e))


def rec(payload):
	return struct.pack(">IBB", len(payload) + 2, 1, 0) + payload


def feed(d, host, inc, seed):
	"""Paced and bursty data until DIR/markers exists, then a marker every
	0.5 s until DIR/marks-stop, then nothing until DIR/end: exit 0."""
	rnd = random.Random("%s-%s-%s" % (seed, host, inc))
	tag = "h%s-s%s-" % (host, inc)
	inlog = open(os.path.join(d, "h%s-c%s.in" % (host, inc)), "w")
	out = sys.stdout.buffer
	mfile = os.path.join(d, "markers")
	sfile = os.path.join(d, "marks-stop")
	efile = os.path.join(d, "end")
	n = 0
	k = 0

	def put(payloads, lines):
		inlog.write("".join(lines))
		inlog.flush()
		out.write(b"".join(rec(p) for p in payloads))
		out.flush()

	try:
		out.write(b"TOFR\0\1\0\0")
		out.flush()
		while not os.path.exists(mfile):
			if rnd.random() < 0.3:	# a burst
				m = rnd.randint(50, 600)
				gap = 0.0
			else:			# paced: 50-400 a second
				m = rnd.randint(5, 40)
				gap = m / rnd.uniform(50, 400)
			ps, ls = [], []
			for _ in range(m):
				n += 1
				s = tag + str(n)
				r = rnd.random()
				if r < 0.01:	# fragmented on the wire
					s += ":" + "x" * rnd.randint(1500, 5000)
				elif r < 0.2:
					s += ":" + "y" * rnd.randint(1, 200)
				ps.append(s.encode())
				ls.append(s + "\n")
			put(ps, ls)
			if gap:
				time.sleep(gap)
		while not os.path.exists(sfile):
			k += 1
			s = tag + "mark-%d" % k
			put([s.encode()], ["%s\t%.3f\n" % (s, time.time())])
			time.sleep(0.5)
		while not os.path.exists(efile):
			time.sleep(0.1)
	except BrokenPipeError:
		# tocast is gone (killed): what it did not read is not cast
		try:
			sys.stdout = None
		except Exception:
			pass
		os._exit(0)
	inlog.close()
	out.close()


MARK = re.compile(rb"h\d+-s\d+-mark-\d+")


def live(d):
	"""The logs of the members live at the end (DIR/live, one a line)."""
	try:
		with open(os.path.join(d, "live")) as f:
			return [l.strip() for l in f if l.strip()]
	except FileNotFoundError:
		return []


def watch(d):
	"""Until killed: every 0.2 s, read what each member log gained and
	note the first time each marker shows in it."""
	pos = {}
	tail = {}
	seen = set()
	out = open(os.path.join(d, "marks-seen.jsonl"), "a")
	for name in os.listdir(d):
		if name.endswith(".log"):
			pos[name] = os.path.getsize(os.path.join(d, name))
			tail[name] = b""
	open(os.path.join(d, "watch-ready"), "w").close()
	while True:
		now = time.time()
		for name in sorted(os.listdir(d)):
			if not name.endswith(".log"):
				continue
			p = pos.get(name, 0)
			try:
				with open(os.path.join(d, name), "rb") as f:
					f.seek(p)
					b = f.read()
			except FileNotFoundError:
				continue
			if not b:
				continue
			pos[name] = p + len(b)
			buf = tail.get(name, b"") + b
			for m in MARK.finditer(buf):
				key = (name, m.group().decode())
				if key not in seen:
					seen.add(key)
					out.write(json.dumps({"log": name,
					    "payload": key[1], "t": now}) + "\n")
			tail[name] = buf[-64:]
		out.flush()
		time.sleep(0.2)


def marks_done(d):
	want = set()
	for log in live(d):
		if "-c" not in log:
			continue
		inp = os.path.join(d, log[:-4] + ".in")
		try:
			with open(inp) as f:
				for l in f:
					if "\t" in l:
						want.add(l.split("\t")[0])
		except FileNotFoundError:
			pass
	have = {}
	try:
		with open(os.path.join(d, "marks-seen.jsonl")) as f:
			for l in f:
				try:
					j = json.loads(l)
				except ValueError:
					continue
				have.setdefault(j["log"], set()).add(j["payload"])
	except FileNotFoundError:
		pass
	if not want:
		return 1
	for log in live(d):
		if want - have.get(log, set()):
			return 1
	return 0


VIEWLINE = re.compile(r"joined view (\d+): ([0-9a-f ]+) \(")


def rank0(d):
	"""From the -v lines: the newest view among the live members; its
	first id; the live member whose views all hold that id, fewest
	candidates first."""
	best = None
	mine = {}
	for log in live(d):
		err = os.path.join(d, log[:-4] + ".err")
		inter = None
		last = None
		try:
			with open(err, errors="replace") as f:
				for l in f:
					m = VIEWLINE.search(l)
					if not m:
						continue
					ids = m.group(2).split()
					inter = set(ids) if inter is None else \
					    inter & set(ids)
					last = (int(m.group(1)), len(ids), ids)
		except FileNotFoundError:
			continue
		if last is None:
			continue
		mine[log] = inter
		if best is None or last[:2] > best[:2]:
			best = last
	if best is None:
		return 1
	r0 = best[2][0]
	cands = sorted((len(s), log) for log, s in mine.items() if r0 in s)
	if not cands:
		return 1
	log = cands[0][1]
	m = re.match(r"h(\d+)-([rc])\d+\.log", log)
	print(m.group(1), m.group(2))
	return 0


def main(a):
	if len(a) == 3 and a[0] == "plan":
		plan(int(a[1]), float(a[2]))
	elif len(a) == 5 and a[0] == "feed":
		feed(a[1], a[2], a[3], a[4])
	elif len(a) == 2 and a[0] == "watch":
		watch(a[1])
	elif len(a) == 2 and a[0] == "marks-done":
		return marks_done(a[1])
	elif len(a) == 2 and a[0] == "rank0":
		return rank0(a[1])
	else:
		print(__doc__, file=sys.stderr)
		return 64
	return 0


if __name__ == "__main__":
	sys.exit(main(sys.argv[1:]))
