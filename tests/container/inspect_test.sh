#!/usr/bin/env bash
# Container test: `lockcr inspect` and `lockcr dump` on a real runc container, held to the kernel's
# own account of the container's locks, read here without any of lockcr's code: the host's
# /proc/locks lines for the inodes of BUNDLE/rootfs/data/*, each container process's
# /proc/PID/fdinfo "lock:" lines, NSpid for container pids and kcmp(KCMP_FILE) to tell open file
# descriptions apart.
#
# Usage: tests/container/inspect_test.sh LOCKCR BUILD_DIR
#   LOCKCR     the lockcr binary
#   BUILD_DIR  the build tree: BUILD_DIR/workload holds the static workloads; the bundle and logs go
#              to BUILD_DIR/lockcr-test-PID-*
# Runs as root. Prints one PASS/FAIL line per check; exits 1 if any check failed (a command that
# exits 0 without its output fails too), 2 if the test could not be set up. The container and the
# work directory are removed on every path a signal allows; after SIGKILL, tests/container/sweep.sh
# removes them.
set -euo pipefail

# shellcheck source=tests/container/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
schema=$repo/schema/lock-image.schema.json
schema_check=$repo/tests/schema_check.py
bundle=$work/bundle
name=$test_prefix-inspect

cleanup() {
    remove_demo_container
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# The kernel-truth reader and the comparisons, in Python for its JSON; they read only /proc, the
# bundle's files and the image.
kernel_truth() {
    "$python" - "$@" <<'PYTHON'
import collections, ctypes, json, os, platform, re, sys

KINDS = {"POSIX": "posix", "OFDLCK": "ofd", "FLOCK": "flock", "LEASE": "lease"}
LEASE_STATES = {"ACTIVE": "active", "BREAKING": "breaking", "BREAKER": "breaker"}
LINE = re.compile(r"^(\d+): (-> )?(\S+) +(\S+) +(\S+) +(-?\d+) +([0-9a-f]+:[0-9a-f]+):(\d+) +(\d+) +(\d+|EOF)$")

def parse_lock_line(text):
    """One /proc/locks line, or the part of an fdinfo "lock:" line after the tab."""
    match = LINE.match(text.strip())
    if not match:
        raise SystemExit(f"FAIL: kernel truth: cannot parse lock line {text!r}")
    ordinal, arrow, kind, mode, ltype, pid, dev, ino, start, end = match.groups()
    lock = {"kind": KINDS.get(kind, kind), "type": ltype.lower().replace("unlck", "unlock"),
            "start": int(start), "end": end if end == "EOF" else int(end)}
    if lock["kind"] == "lease":
        lock["lease_state"] = LEASE_STATES.get(mode, mode)
    # The ordinal is left out: it is a position in the host-wide list, which other workloads shift.
    return {"blocked": bool(arrow), "lock": lock, "pid": int(pid), "dev": dev, "ino": int(ino)}

def read_text(path):
    with open(path) as f:
        return f.read()

def proc_locks_once(files):
    """The lines on FILES; a "->" waiter line gets the lock line just before it, its blocker (the
    kernel prints a lock and its waiters as one record, so they are never read apart)."""
    out, blocker = [], None
    for text in read_text("/proc/locks").splitlines():
        line = parse_lock_line(text)
        if line["blocked"]:
            line["blocked_on"] = blocker
        else:
            blocker = {"lock": line["lock"], "pid": line["pid"]}
        if f"{line['dev']}:{line['ino']}" in files:
            out.append(line)
    return out

def stable_proc_locks(files):
    """/proc/locks is read a page at a time, each page under its own lock: while other processes
    on the host add and drop locks, one read may skip or repeat lines. Two reads in a row that
    agree on the container's files are the truth."""
    previous = None
    for attempt in range(100):
        current = proc_locks_once(files)
        if previous is not None and sorted(map(json.dumps, current)) == sorted(map(json.dumps, previous)):
            return current
        previous = current
    raise SystemExit("FAIL: kernel truth: /proc/locks never read the same twice in a row (100 reads)")

def snapshot(bundle, init_pid):
    data = os.path.join(bundle, "rootfs", "data")
    files = {}
    for name in sorted(os.listdir(data)):
        status = os.stat(os.path.join(data, name))
        if os.path.isfile(os.path.join(data, name)):
            files[f"{os.major(status.st_dev):02x}:{os.minor(status.st_dev):02x}:{status.st_ino}"] = name
    locks = stable_proc_locks(files)
    namespace = os.readlink(f"/proc/{init_pid}/ns/pid")
    processes = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{entry}/ns/pid") != namespace:
                continue
            status = dict(l.split(":", 1) for l in read_text(f"/proc/{entry}/status").splitlines() if ":" in l)
            fds = {}
            for fd in os.listdir(f"/proc/{entry}/fd"):
                lines = [parse_lock_line(l.split(":", 1)[1]) for l in
                         read_text(f"/proc/{entry}/fdinfo/{fd}").splitlines() if l.startswith("lock:")]
                if lines:
                    fds[fd] = {"path": os.readlink(f"/proc/{entry}/fd/{fd}"), "locks": lines}
            processes[entry] = {"nspid": int(status["NSpid"].split()[-1]), "command": status["Name"].strip(),
                                "threads": len(os.listdir(f"/proc/{entry}/task")), "fds": fds}
        except FileNotFoundError:
            continue  # exited meanwhile: nothing of it is in /proc/locks either
        except PermissionError:
            continue  # not ours to read (the sandbox's own init): not a container process either
    return {"files": files, "locks": locks, "processes": processes,
            "descriptions": descriptions_of(locks, processes)}

KCMP_FILE = 0
SYS_KCMP = {"x86_64": 312, "aarch64": 272}[platform.machine()]
libc = ctypes.CDLL(None, use_errno=True)

def same_description(a, b):
    result = libc.syscall(SYS_KCMP, int(a[0]), int(b[0]), KCMP_FILE, int(a[1]), int(b[1]))
    if result < 0:
        raise SystemExit(f"FAIL: kernel truth: kcmp {a} {b}: {os.strerror(ctypes.get_errno())}")
    return result == 0

def descriptions_of(locks, processes):
    """flock/OFD/lease locks with every (host pid, fd) whose fdinfo shows them, split by description."""
    out = []
    key = lambda line: json.dumps([line["lock"], line["pid"], line["dev"], line["ino"]], sort_keys=True)
    lines_by_key = collections.defaultdict(list)
    for line in locks:
        if line["lock"]["kind"] != "posix" and not line["blocked"]:
            lines_by_key[key(line)].append(line)
    for identity, lines in lines_by_key.items():
        showing = [(pid, fd) for pid, process in processes.items() for fd, info in process["fds"].items()
                   if any(key(l) == identity for l in info["locks"])]
        groups = []
        for pair in showing:
            group = next((g for g in groups if same_description(g[0], pair)), None)
            if group is None:
                groups.append([pair])
            else:
                group.append(pair)
        if len(groups) != len(lines):
            raise SystemExit(f"FAIL: kernel truth: {len(lines)} lock line(s) {identity} but {len(groups)} "
                             "description(s) show them")
        for line, group in zip(lines, groups):
            out.append({"line": line, "holders": sorted(group)})
    return out

def describe(lock):
    text = f"{lock['kind'].upper()} {lock['type'].upper()}"
    if lock["kind"] in ("posix", "ofd"):
        text += f" [{lock['start']},{lock['end']}]"
    return text

class Checks:
    def __init__(self):
        self.failures = 0
    def check(self, ok, what, detail=""):
        print(f"{'PASS' if ok else 'FAIL'}: {what}" + ("" if ok or not detail else f": {detail}"))
        self.failures += 0 if ok else 1

def same_lock(a, b):
    return {k: a.get(k) for k in ("kind", "type", "start", "end", "lease_state")} == \
           {k: b.get(k) for k in ("kind", "type", "start", "end", "lease_state")}

def compare(truth_path, truth_after_path, image_path, pids_path):
    truth, after = json.load(open(truth_path)), json.load(open(truth_after_path))
    image = json.load(open(image_path))
    roles = dict(line.split() for line in read_text(pids_path).splitlines() if line.strip())
    roles = {role: int(pid) for role, pid in roles.items()}
    checks = Checks()
    nspid = {int(pid): p["nspid"] for pid, p in truth["processes"].items()}
    file_of = lambda line: "/data/" + truth["files"][f"{line['dev']}:{line['ino']}"]

    checks.check(truth == after, "the kernel's locks of the container did not change while lockcr inspect ran",
                 "before/after snapshots differ")

    # The workload is in the state lockholder documents; otherwise every later check is moot.
    held = sorted((file_of(l), describe(l["lock"]), nspid.get(l["pid"]) if l["lock"]["kind"] == "posix" else None)
                  for l in truth["locks"] if not l["blocked"])
    documented = sorted([
        ("/data/posix.dat", "POSIX WRITE [0,99]", roles["init"]),
        ("/data/posix.dat", "POSIX READ [200,EOF]", roles["init"]),
        ("/data/posix.dat", "POSIX WRITE [100,149]", roles["inheritor"]),
        ("/data/posix.dat", "POSIX WRITE [150,199]", roles["threaded"]),
        ("/data/ofd.dat", "OFD WRITE [0,49]", None),
        ("/data/flock.dat", "FLOCK WRITE", None),
        ("/data/lease.dat", "LEASE READ", None)])
    checks.check(held == documented, "the kernel shows lockholder's documented locks", f"{held}")
    blocked = [l for l in truth["locks"] if l["blocked"]]
    checks.check(len(blocked) == 1 and nspid.get(blocked[0]["pid"]) == roles["waiter"],
                 "the kernel shows the waiter blocked", f"{blocked}")

    processes = {p["pid"]: p for p in image["processes"]}
    for host, process in truth["processes"].items():
        mine = processes.get(process["nspid"])
        checks.check(mine is not None and mine["host_pid"] == int(host) and mine["command"] == process["command"]
                     and mine["threads"] == process["threads"],
                     f"image process pid {process['nspid']}: host pid {host}, {process['command']}, "
                     f"{process['threads']} thread(s) (NSpid, status, task/)", f"image has {mine and {k: mine[k] for k in ('host_pid', 'command', 'threads')}}")
    extra = sorted(set(processes) - {p["nspid"] for p in truth["processes"].values()})
    checks.check(not extra, "the image lists no process outside the container's pid namespace", f"extra pids {extra}")

    # POSIX locks: per process and file, the image's locks are exactly the kernel's, each under an
    # fd whose fdinfo shows it.
    for line in truth["locks"]:
        if line["blocked"] or line["lock"]["kind"] != "posix":
            continue
        owner = truth["processes"].get(str(line["pid"]))
        what = f"{describe(line['lock'])} on {file_of(line)} (host pid {line['pid']})"
        if owner is None:
            checks.check(False, what, "its owner is not a process of the container")
            continue
        fds_showing = {int(fd) for fd, info in owner["fds"].items()
                       if any(l["lock"] == line["lock"] and l["ino"] == line["ino"] for l in info["locks"])}
        mine = processes.get(owner["nspid"], {"fds": []})
        found = [fd for fd in mine["fds"] if fd["ino"] == line["ino"] and any(same_lock(l, line["lock"]) for l in fd["locks"])]
        checks.check(found and all(fd["fd"] in fds_showing and fd["path"] == file_of(line) for fd in found),
                     f"{what}: in the image for pid {owner['nspid']}, under an fd whose fdinfo shows it "
                     f"({sorted(fds_showing)}), path {file_of(line)}",
                     f"image has it under {[(fd['fd'], fd['path']) for fd in found]}")
    for pid, process in processes.items():
        image_locks = collections.Counter((fd["ino"], describe(l)) for fd in process["fds"] for l in fd["locks"])
        host = process["host_pid"]
        kernel_locks = collections.Counter((l["ino"], describe(l["lock"])) for l in truth["locks"]
                                           if not l["blocked"] and l["lock"]["kind"] == "posix" and l["pid"] == host)
        # One /proc/locks line is one lock: listed under two fds it would be counted (and replayed) twice.
        checks.check(image_locks == kernel_locks, f"pid {pid}: the image lists each of its POSIX locks once, as /proc/locks",
                     f"image {sorted(image_locks.items())}, kernel {sorted(kernel_locks.items())}")
        for fd in process["fds"]:
            checks.check(fd["lock_count"] == len(fd["locks"]), f"pid {pid} fd {fd['fd']}: lock_count is the number of locks")

    # flock, OFD and lease locks: one description each, shared by exactly the (pid, fd) pairs whose
    # fdinfo shows the lock.
    descriptions = image["descriptions"]
    for description in truth["descriptions"]:
        line = description["line"]
        holders = sorted([truth["processes"][pid]["nspid"], int(fd)] for pid, fd in description["holders"])
        what = f"{describe(line['lock'])} on {file_of(line)}"
        found = [d for d in descriptions if d["ino"] == line["ino"] and any(same_lock(l, line["lock"]) for l in d["locks"])]
        checks.check(len(found) == 1, f"{what}: on one description in the image", f"found on {len(found)}")
        if len(found) != 1:
            continue
        mine = sorted([h["pid"], h["fd"]] for h in found[0]["holders"])
        checks.check(mine == holders, f"{what}: holders are the (pid, fd) pairs whose fdinfo shows it {holders}",
                     f"image has {mine}")
        checks.check(found[0]["path"] == file_of(line), f"{what}: path {file_of(line)}", f"image has {found[0]['path']!r}")
        if line["lock"]["kind"] == "lease":
            # lockholder: F_SETOWN(itself), F_SETSIG(SIGUSR1) on the lease's fd.
            checks.check(found[0].get("signal_owner") == {"type": "pid", "pid": roles["init"], "signal": 10},
                         f"{what}: signal owner is init with SIGUSR1", f"image has {found[0].get('signal_owner')}")
    kernel_count = sum(1 for l in truth["locks"] if not l["blocked"] and l["lock"]["kind"] != "posix")
    image_count = sum(len(d["locks"]) for d in descriptions)
    checks.check(image_count == kernel_count, f"the image has {kernel_count} description lock(s), as /proc/locks",
                 f"image has {image_count}")

    # Waiters: the "->" lines, each with the lock it is blocked on.
    for line in blocked:
        blocker = line["blocked_on"]
        want = {"pid": nspid.get(line["pid"]), "host_pid": line["pid"], "path": file_of(line), "ino": line["ino"],
                "blocked_on_pid": nspid.get(blocker["pid"], 0) if blocker["lock"]["kind"] == "posix" else 0}
        found = [w for w in image["waiters"] if all(w.get(k) == v for k, v in want.items())
                 and same_lock(w["requested"], line["lock"]) and same_lock(w["blocked_on"], blocker["lock"])]
        checks.check(len(found) == 1, f"waiter pid {want['pid']}: {describe(line['lock'])} on {want['path']} "
                     f"blocked on {describe(blocker['lock'])} of pid {want['blocked_on_pid']}",
                     f"image waiters {image['waiters']}")
    checks.check(len(image["waiters"]) == len(blocked), f"the image has {len(blocked)} waiter(s)",
                 f"image has {len(image['waiters'])}")

    paths = [fd["path"] for p in image["processes"] for fd in p["fds"]] + [d["path"] for d in descriptions] + \
            [w["path"] for w in image["waiters"]]
    bad = [p for p in paths if not p.startswith("/data/")]
    checks.check(paths and not bad, "every path in the image is the container's view (/data/...)", f"{bad}")
    return checks.failures

def count_lock_lines(truth_path):
    print(len(json.load(open(truth_path))["locks"]))

mode = sys.argv[1]
if mode == "snapshot":
    json.dump(snapshot(sys.argv[2], int(sys.argv[3])), sys.stdout, sort_keys=True)
elif mode == "compare":
    sys.exit(1 if compare(*sys.argv[2:6]) else 0)
elif mode == "count":
    count_lock_lines(sys.argv[2])
elif mode == "same-but-created":
    a, b = json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
    a.pop("created", None), b.pop("created", None)
    if a != b:
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                print(f"  differs in {key!r}")
    sys.exit(0 if a == b else 1)
PYTHON
}

# --- Setup --------------------------------------------------------------------------------------
"$repo/scripts/build-rootfs.sh" "$bundle" "$build/workload" >"$work/build-rootfs.log" 2>&1 ||
    die "build-rootfs.sh: $(tail -n 1 "$work/build-rootfs.log")"
bounded "demo-container.sh up $name" "" "$repo/scripts/demo-container.sh" up "$name" "$bundle" >"$work/up.log" 2>&1 ||
    die "demo-container.sh up: $(tail -n 1 "$work/up.log")"
init_pid=$(timeout -k 5 "$call_seconds" runc state "$name" | "$python" -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
echo "container $name, init host pid $init_pid, bundle $bundle"

# --- inspect --json -----------------------------------------------------------------------------
kernel_truth snapshot "$bundle" "$init_pid" >"$work/truth-before.json" || die "reading /proc failed"
timeout -k 5 "$call_seconds" runc state "$name" >"$work/state.json"
status=0
bounded "lockcr inspect --json" "" "$lockcr" inspect --state - --json <"$work/state.json" \
    >"$work/inspect.json" 2>"$work/inspect.err" || status=$?
if [[ $status -eq 0 && -s $work/inspect.json ]]; then
    pass "lockcr inspect --state - --json (runc state on stdin)"
elif [[ $status -eq 0 ]]; then
    fail "lockcr inspect --json exited 0 and wrote nothing: $(head -n 3 "$work/inspect.err")"
else
    fail "lockcr inspect --json exited $status: $(head -n 3 "$work/inspect.err")"
fi
kernel_truth snapshot "$bundle" "$init_pid" >"$work/truth-after.json" || die "reading /proc failed"

if [[ ! -s $work/inspect.json ]]; then
    fail "inspect --json agrees with /proc/locks, fdinfo and NSpid: no inspect output to compare"
else
    if kernel_truth compare "$work/truth-before.json" "$work/truth-after.json" "$work/inspect.json" \
            "$bundle/rootfs/data/pids"; then
        pass "inspect --json agrees with /proc/locks, fdinfo and NSpid"
    else
        fail "inspect --json disagrees with the kernel (lines above)"
    fi
    if [[ ! -f $schema_check ]]; then
        fail "inspect image validates against the schema: $schema_check does not exist"
    elif "$python" "$schema_check" "$schema" "$work/inspect.json" >"$work/schema.log" 2>&1; then
        pass "inspect image validates against $(basename "$schema")"
    else
        fail "inspect image does not validate: $(head -n 3 "$work/schema.log")"
    fi
fi

# --- inspect (table) ----------------------------------------------------------------------------
status=0
bounded "lockcr inspect" "" "$lockcr" inspect --state "$work/state.json" >"$work/table.txt" 2>"$work/table.err" || status=$?
if [[ $status -eq 0 ]]; then
    lock_lines=$(kernel_truth count "$work/truth-before.json")
    table_lines=$(wc -l <"$work/table.txt")
    if [[ $(head -n 1 "$work/table.txt") == COMMAND* && $table_lines -eq $((lock_lines + 1)) ]] &&
        awk 'NR > 1 && !/ \/data\// { bad = 1 } END { exit bad }' "$work/table.txt"; then
        pass "table: a header and one line per /proc/locks line ($lock_lines), each naming a /data/ path"
    else
        fail "table: $table_lines line(s) for $lock_lines lock line(s):"
        sed 's/^/  /' "$work/table.txt"
    fi
else
    fail "lockcr inspect (table) exited $status: $(head -n 3 "$work/table.err")"
fi

# --- dump ---------------------------------------------------------------------------------------
freezer_state=/sys/fs/cgroup/freezer$(awk -F: '$2 == "freezer" { print $3 }' "/proc/$init_pid/cgroup")/freezer.state
[[ -f $freezer_state ]] || freezer_state=/sys/fs/cgroup/freezer/$name/freezer.state
umask 022  # the image must be 0600 whatever the caller's umask
status=0
bounded "lockcr dump" "" "$lockcr" dump --state "$work/state.json" -o "$work/dump.json" \
    >"$work/dump.out" 2>"$work/dump.err" || status=$?
if [[ $status -eq 0 && -s $work/dump.json ]]; then
    pass "lockcr dump --state -o wrote the image"
elif [[ $status -eq 0 ]]; then
    fail "lockcr dump exited 0 without writing $work/dump.json: $(head -n 3 "$work/dump.err")"
else
    fail "lockcr dump exited $status: $(head -n 3 "$work/dump.err")"
fi
state=$(cat "$freezer_state")
if [[ $state == THAWED ]]; then
    pass "the container is THAWED after dump ($freezer_state)"
else
    fail "the container is $state after dump ($freezer_state)"
fi
if [[ ! -s $work/dump.json || ! -s $work/inspect.json ]]; then
    fail "dump image checks (mode, schema, equal to inspect's, verify): no dump image or no inspect output"
else
    mode=$(stat -c %a "$work/dump.json")
    if [[ $mode == 600 ]]; then
        pass "dump image is mode 0600"
    else
        fail "dump image is mode $mode, not 0600"
    fi
    if [[ ! -f $schema_check ]]; then
        fail "dump image validates against the schema: $schema_check does not exist"
    elif "$python" "$schema_check" "$schema" "$work/dump.json" >"$work/schema-dump.log" 2>&1; then
        pass "dump image validates against $(basename "$schema")"
    else
        fail "dump image does not validate: $(head -n 3 "$work/schema-dump.log")"
    fi
    if kernel_truth same-but-created "$work/inspect.json" "$work/dump.json" >"$work/same.log"; then
        pass "dump image equals what inspect saw (but for 'created')"
    else
        fail "dump image differs from inspect's:"
        cat "$work/same.log"
    fi
    if bounded "lockcr verify" "" "$lockcr" verify "$work/dump.json" --state "$work/state.json" >"$work/verify.out" 2>&1; then
        pass "lockcr verify of the dump image against the untouched container exits 0"
    else
        fail "lockcr verify of the dump image against the untouched container:"
        sed 's/^/  /' "$work/verify.out"
    fi
fi

if ((failures > 0)); then
    echo "inspect_test: $failures check(s) FAILED"
    exit 1
fi
echo "inspect_test: all checks passed"
