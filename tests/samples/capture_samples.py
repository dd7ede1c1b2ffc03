#!/usr/bin/python3
# Captures the real /proc samples the unit tests parse: sets every kind of file lock the kernel
# prints (POSIX, OFD, flock, read and write leases, a lease being broken with and without a blocked
# opener, POSIX/OFD/flock waiters, a waiter blocked on a waiter) and copies /proc/locks, fdinfo and
# status files while they are held. Run as root from any directory:
#     /usr/bin/python3 tests/samples/capture_samples.py [OUTPUT_DIR]
# The tests assert on pids and inodes of the committed capture: re-running it means updating
# tests/unit/*_test.cpp too.
import ctypes
import fcntl
import os
import select
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = sys.argv[1] if len(sys.argv) > 1 else HERE
WORK = "/tmp/lockcr-capture"
SETTLE = 0.3  # seconds for a child to reach its blocking call

libc = ctypes.CDLL(None, use_errno=True)


def flock_struct(kind, start, length):
    # struct flock on x86_64/aarch64: short type, short whence, off_t start, off_t len, pid_t pid.
    return struct.pack("hhqqi4x", kind, os.SEEK_SET, start, length, 0)


def child(body):
    pid = os.fork()
    if pid == 0:
        try:
            signal.signal(signal.SIGIO, lambda *_: None)  # lease breaks signal the holder
            body()
        finally:
            os._exit(0)
    return pid


def sleep_forever():
    while True:
        time.sleep(3600)


def save(name, text):
    with open(os.path.join(OUT, name), "w") as out:
        out.write(text)


def read(path):
    with open(path) as f:
        return f.read()


def holder(paths, ready_write):
    a = os.open(paths["a"], os.O_RDWR)
    fcntl.fcntl(a, fcntl.F_SETLK, flock_struct(fcntl.F_WRLCK, 5, 10))       # POSIX [5,14]
    fcntl.fcntl(a, fcntl.F_SETLK, flock_struct(fcntl.F_RDLCK, 100, 0))      # POSIX [100,EOF]
    ofd = os.open(paths["a"], os.O_RDWR)
    fcntl.fcntl(ofd, fcntl.F_OFD_SETLK, flock_struct(fcntl.F_WRLCK, 50, 50))  # OFD [50,99]
    ofd_eof = os.open(paths["b"], os.O_RDONLY)
    fcntl.fcntl(ofd_eof, fcntl.F_OFD_SETLK, flock_struct(fcntl.F_RDLCK, 10, 0))  # OFD [10,EOF]
    b = os.open(paths["b"], os.O_RDONLY)
    fcntl.flock(b, fcntl.LOCK_SH)
    c = os.open(paths["c"], os.O_RDONLY)
    fcntl.flock(c, fcntl.LOCK_EX)
    d = os.open(paths["d"], os.O_RDONLY)
    fcntl.fcntl(d, fcntl.F_SETLEASE, fcntl.F_RDLCK)
    e = os.open(paths["e"], os.O_RDONLY)
    fcntl.fcntl(e, fcntl.F_SETLEASE, fcntl.F_WRLCK)
    f = os.open(paths["f"], os.O_RDONLY)
    fcntl.fcntl(f, fcntl.F_SETLEASE, fcntl.F_RDLCK)
    event = os.eventfd(7)
    poller = select.epoll()
    poller.register(event, select.EPOLLIN)
    threading.Thread(target=sleep_forever, daemon=True).start()
    fds = dict(posix=a, ofd=ofd, ofd_eof=ofd_eof, flock=b, flock_exclusive=c,
               lease_breaking_unlock=d, lease_breaking_read=e, lease_active=f, eventfd=event,
               epoll=poller.fileno())
    os.write(ready_write, repr(fds).encode())
    os.close(ready_write)
    sleep_forever()


def blocked_posix(path, kind, start, length, command):
    def body():
        fd = os.open(path, os.O_RDWR)
        fcntl.fcntl(fd, command, flock_struct(kind, start, length))
        sleep_forever()
    return body


def blocked_flock(path):
    def body():
        fd = os.open(path, os.O_RDONLY)
        fcntl.flock(fd, fcntl.LOCK_EX)
        sleep_forever()
    return body


def blocked_open(path, flags):
    def body():
        try:
            os.open(path, flags)
        except BlockingIOError:
            pass
        sleep_forever()
    return body


def named(name):
    def body():
        libc.prctl(15, ctypes.c_char_p(name), 0, 0, 0)  # PR_SET_NAME
        sleep_forever()
    return body


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    os.makedirs(OUT, exist_ok=True)
    paths = {name: os.path.join(WORK, name) for name in "abcdefg"}
    for path in paths.values():
        with open(path, "w") as out:
            out.write("x" * 200)
    children = []
    try:
        ready_read, ready_write = os.pipe()
        holder_pid = os.fork()
        if holder_pid == 0:
            os.close(ready_read)
            signal.signal(signal.SIGIO, lambda *_: None)
            holder(paths, ready_write)
            os._exit(0)
        children.append(holder_pid)
        os.close(ready_write)
        fds = eval(os.read(ready_read, 4096).decode())
        os.close(ready_read)

        waiters = [
            blocked_posix(paths["a"], fcntl.F_WRLCK, 5, 10, fcntl.F_SETLKW),        # -> POSIX
            blocked_posix(paths["a"], fcntl.F_WRLCK, 60, 11, fcntl.F_OFD_SETLKW),   # -> OFDLCK
            blocked_flock(paths["c"]),                                              # -> FLOCK
            blocked_flock(paths["c"]),                                              # -> -> FLOCK
            blocked_open(paths["d"], os.O_WRONLY | os.O_NONBLOCK),  # starts a break, no breaker
            blocked_open(paths["e"], os.O_RDONLY),                  # breaker waits: -> BREAKER
        ]
        for body in waiters:
            children.append(child(body))
            time.sleep(SETTLE)
        named_pid = child(named(b"we ird\\na\nme"))
        children.append(named_pid)
        stopped_pid = child(sleep_forever)
        children.append(stopped_pid)
        os.kill(stopped_pid, signal.SIGSTOP)
        traced_pid = child(sleep_forever)
        children.append(traced_pid)
        if libc.ptrace(0x4206, traced_pid, None, None) != 0:  # PTRACE_SEIZE
            raise OSError(ctypes.get_errno(), "PTRACE_SEIZE")
        time.sleep(SETTLE)

        save("proc_locks.txt", read("/proc/locks"))
        for name, fd in fds.items():
            save(f"fdinfo_{name}.txt", read(f"/proc/{holder_pid}/fdinfo/{fd}"))
        save("status_holder.txt", read(f"/proc/{holder_pid}/status"))
        save("status_named.txt", read(f"/proc/{named_pid}/status"))
        save("status_stopped.txt", read(f"/proc/{stopped_pid}/status"))
        save("status_traced.txt", read(f"/proc/{traced_pid}/status"))
        save("cgroup_hybrid.txt", read(f"/proc/{holder_pid}/cgroup"))
        capture_pid_namespace(paths["g"], children)
    finally:
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        shutil.rmtree(WORK, ignore_errors=True)


def capture_pid_namespace(path, children):
    # A POSIX lock held inside a pid namespace with a waiter outside it: inside, the waiter's pid
    # is 0 (not visible there); the holder's NSpid has two values.
    inner = subprocess.Popen(
        ["unshare", "--pid", "--fork", "--kill-child", "--mount-proc", "/usr/bin/python3", "-c",
         "import fcntl, os, struct, time\n"
         f"fd = os.open({path!r}, os.O_RDWR)\n"
         "fcntl.fcntl(fd, fcntl.F_SETLK, struct.pack('hhqqi4x', fcntl.F_WRLCK, 0, 0, 0, 0))\n"
         "time.sleep(3600)\n"])
    try:
        time.sleep(1)
        python_pid = int(subprocess.check_output(["pgrep", "-P", str(inner.pid)]).split()[0])
        children.append(child(blocked_posix(path, fcntl.F_WRLCK, 0, 0, fcntl.F_SETLKW)))
        time.sleep(SETTLE)
        save("proc_locks_in_pid_namespace.txt", subprocess.check_output(
            ["nsenter", "-t", str(python_pid), "-p", "-m", "cat", "/proc/locks"]).decode())
        save("status_in_pid_namespace.txt", read(f"/proc/{python_pid}/status"))
    finally:
        inner.kill()
        inner.wait()


if __name__ == "__main__":
    main()
