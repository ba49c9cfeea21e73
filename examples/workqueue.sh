#!/bin/sh
# workqueue.sh: an ordered work queue.  Producers cast jobs ("job ID") to a
# group; k workers in it share them out by the agreed order: the n-th job
# delivered belongs to the worker of rank n mod k among the workers of the
# current view (ranks as in the view records of to-frame(5)).  A worker
# does its jobs and casts "done ID" to the group.  When a worker fails, the
# view without it comes in the same place of every survivor's stream, so
# they all hand its jobs that are not yet done to the survivors in the same
# way: no job is lost.  A job counts as done when its "done" is delivered;
# one the dead worker did but had not reported is done again.  A worker
# says "hello NAME" when it starts and whenever someone new joins; start the
# workers before the jobs flow (a late worker would need the queue's state).
#
#	sh examples/workqueue.sh --worker NAME GROUP	a worker: prints the
#		jobs it does; leaves after "end" once every job is done
#	seq 100 | sed 's/^/job /' | tocast -g GROUP -w 4	a producer
#	sh examples/workqueue.sh [-j JOBS]	self-test: 3 workers, JOBS jobs
#		(default 1000), one worker killed (SIGKILL) midway
set -eu
prog=workqueue
# shellcheck source=examples/lib.sh
. "$(dirname "$0")/lib.sh"

usage() {
	echo "usage: workqueue.sh [-j jobs] | --worker name group [agreed-log]"
}

# The state every worker keeps, the same at every worker since it is made
# of the same stream: the views, the workers (members that said "hello
# NAME"), the jobs not done and their owners.  A job keeps its owner while
# the owner is in the view.
# shellcheck disable=SC2016 # awk's $
worker='
function workers(   i) {
	k = 0
	for (i = 1; i <= nv; i++)
		if (rank[i] in worker)
			w[k++] = rank[i]
}
function assign(j) {
	if (!(owner[j] in inview) || !(owner[j] in worker))
		owner[j] = k ? w[ord[j] % k] : ""
}
function work(j) {
	if (myid != "" && owner[j] == myid && !(j in started)) {
		started[j] = 1
		print j; fflush()			# the work
		print "done", j, me >fifo; fflush(fifo)	# its report
	}
}
function all(   j) {
	workers()
	for (j in pend) assign(j)
	for (j in pend) work(j)
}
function hello() { print "hello", me >fifo; fflush(fifo) }
BEGIN { hello() }
/^view / {
	nv = 0; new = 0
	split("", inview)
	for (i = 3; i <= NF - 2; i++) {
		inview[$i] = 1; rank[++nv] = $i
		if (!($i in seen)) { seen[$i] = 1; new = 1 }
	}
	if (new)
		hello()		# so that whoever joined knows us
	all()
	next
}
/^data / {
	s = $3; sub(/^sender=/, "", s)
	p = $0; sub(/^[^:]*: /, "", p)
	split(p, a, " ")
	if (a[1] == "hello") {
		if (!(s in worker))
			printf "workqueue: %s: %d workers\n", me,
			    ++nworkers | "cat >&2"
		fflush("cat >&2")
		worker[s] = a[2]
		if (a[2] == me) myid = s
		all()
	} else if (a[1] == "job") {
		ord[a[2]] = njobs++; pend[a[2]] = 1; npend++
		assign(a[2]); work(a[2])
	} else if (a[1] == "done") {
		print "done", a[2], a[3] >agreed; fflush(agreed)
		if (a[2] in pend) { delete pend[a[2]]; npend-- }
	} else if (a[1] == "end")
		ended = 1
	if (ended && npend == 0)
		exit
}'

# One worker: its reports come back to its input through a FIFO.
if [ "${1:-}" = --worker ]; then
	[ $# -ge 3 ] || { usage >&2; exit 64; }
	me=$2 g=$3 agreed=${4:-/dev/null}
	dir=$(mktemp -d "${TMPDIR:-/tmp}/to-worker.XXXXXX")
	mkfifo "$dir/fifo"
	frame <"$dir/fifo" |
	    tocast -g "$g" -F -r -v --suspect 500 | toview |
	    lawk -v me="$me" -v fifo="$dir/fifo" -v agreed="$agreed" "$worker"
	exit
fi

opt_count -j 1000 "$@"
jobs=$n

tmpdir
TMPDIR=$dir
export TMPDIR
g=workqueue-$$
for i in 1 2 3; do
	start "w$i" sh "$0" --worker "w$i" "$g" "$dir/w$i.agreed"
done
# A worker that joins while jobs flow would need the state of the queue
# (a state transfer, left out here): start the workers first, and the
# producers once the workers know each other.
for i in 1 2 3; do
	wait_for "$dir/w$i.err" ": 3 workers"
done

# The producer: the jobs in 20 batches over about 2 seconds, then "end".
# shellcheck disable=SC2016 # sh -c's $
start producer sh -c 'n=$1 b=$(($1 / 20 + 1)) i=0
	while [ "$i" -lt "$n" ]; do
		seq "$((i + 1))" "$((i + b < n ? i + b : n))" | sed "s/^/job /"
		i=$((i + b))
		sleep 0.1
	done | { cat; echo end; } | tocast -g "$2" -w 4 --suspect 500 -v' \
    sh "$jobs" "$g"

# Midway, once w2 has done a tenth of the jobs, kill it and all it runs.
t=0
until [ "$(wc -l <"$dir/w2.out")" -ge $((jobs / 10)) ]; do
	t=$((t + 1))
	[ "$t" -le 400 ] || fail "w2 did not get a tenth of the jobs in 20 s"
	sleep 0.05
done
# shellcheck disable=SC2154 # pid_w2 is set by start
env kill -s KILL -- "-$pid_w2"	# the group timeout(1) leads
for p in $pids; do
	[ "$p" = "$pid_w2" ] || wait "$p" || fail "a member exited $?"
done
pids=

# The two survivors agree on the reports; each job is reported once.
cmp "$dir/w1.agreed" "$dir/w3.agreed" || fail "the survivors disagree"
cut -d ' ' -f 2 "$dir/w1.agreed" | sort -n >"$dir/reported"
seq "$jobs" | cmp -s - "$dir/reported" ||
    fail "not every job reported done exactly once: $(uniq -d "$dir/reported" |
    wc -l) twice, $(seq "$jobs" | sort -n | comm -23 - "$dir/reported" |
    wc -l) never"
# The survivors never did a job twice, and did what they reported.
sort -n "$dir/w1.out" "$dir/w3.out" >"$dir/survivors"
[ -z "$(uniq -d "$dir/survivors")" ] || fail "a survivor did a job twice"
for i in 1 2 3; do
	grep " w$i\$" "$dir/w1.agreed" | cut -d ' ' -f 2 | sort -n >"$dir/w$i.rep"
	sort -n "$dir/w$i.out" >"$dir/w$i.did"
done
for i in 1 3; do
	cmp -s "$dir/w$i.rep" "$dir/w$i.did" ||
	    fail "w$i did not report exactly the jobs it did"
done
# w2 reported only jobs it did, and fewer than its share: the survivors
# took over the rest.  What it did and never reported was done again.
[ -z "$(comm -13 "$dir/w2.did" "$dir/w2.rep")" ] ||
    fail "w2 reported jobs it did not do"
r2=$(wc -l <"$dir/w2.rep")
[ "$r2" -gt 0 ] || fail "w2 reported no job"
[ "$r2" -lt $((jobs / 3)) ] ||
    fail "w2, killed midway, reported $r2 of $jobs jobs"
again=$(comm -23 "$dir/w2.did" "$dir/w2.rep" | wc -l)
echo "$jobs jobs, each reported done once: w1 $(wc -l <"$dir/w1.rep")," \
    "w2 $r2 (then killed), w3 $(wc -l <"$dir/w3.rep");" \
    "$again done by w2 but not reported, so done again"
