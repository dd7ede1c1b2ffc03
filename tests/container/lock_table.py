#!/usr/bin/python3
# lock_table.py DATA_DIR INIT_HOST_PID: every /proc/locks line on the files directly in DATA_DIR, one
# per line, sorted:  [-> ]KIND MODE TYPE [START,END] /data/NAME[ pid CONTAINER_PID]
# A POSIX lock's host pid becomes its container pid (NSpid of the processes in init's pid namespace);
# other kinds show no pid (a description lock shows whoever set it).
import os, re, sys
data, init = sys.argv[1], sys.argv[2]
inodes = {os.stat(os.path.join(data, n)).st_ino: n for n in os.listdir(data) if os.path.isfile(os.path.join(data, n))}
namespace = os.readlink(f"/proc/{init}/ns/pid")
nspid = {}
for entry in filter(str.isdigit, os.listdir("/proc")):
    try:
        if os.readlink(f"/proc/{entry}/ns/pid") == namespace:
            status = open(f"/proc/{entry}/status").read()
            nspid[entry] = re.search(r"^NSpid:\s+(.*)$", status, re.M).group(1).split()[-1]
    except (FileNotFoundError, PermissionError):
        pass

def read_once():
    rows = []
    for line in open("/proc/locks"):
        words = line.split()[1:]
        arrow = words[0] == "->"
        if arrow:
            words = words[1:]
        kind, mode, ltype, pid, device, start, end = words
        inode = int(device.rsplit(":", 1)[1])
        if inode not in inodes:
            continue
        owner = "pid " + nspid.get(pid, f"host:{pid}") if kind == "POSIX" else ""
        rows.append(f"{'-> ' if arrow else ''}{kind} {mode} {ltype} [{start},{end}] /data/{inodes[inode]} {owner}".strip())
    return sorted(rows)

previous = read_once()
for attempt in range(100):
    current = read_once()
    if current == previous:
        print("\n".join(current))
        sys.exit(0)
    previous = current
sys.exit("lock_table.py: /proc/locks never read the same twice in a row (100 reads)")
