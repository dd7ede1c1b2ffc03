/*
 * lockload: a lock workload for bench/run.sh. Holds many file locks of every kind lockcr carries,
 * then sleeps until told to drop them or to exit.
 *
 * Usage: lockload flocks [PROCS] N DIR   PROCS processes (default 1), N flocks in all, split
 *                                         evenly: each a file opened once and flock(LOCK_EX), so
 *                                         N flocks on N fds.
 *        lockload mixed PROCS TOTAL DIR   PROCS processes (this one and PROCS-1 children), TOTAL
 *                                         locks in all, split evenly. Each process holds about
 *                                         50% POSIX locks (1-byte ranges at even offsets of a few
 *                                         files, so they never merge), 25% OFD locks (likewise, on
 *                                         one open file description), 20% flocks (one file and fd
 *                                         each) and 5% read leases (one file it created, opened
 *                                         read-only, each). With one lock per process it is POSIX.
 *
 * Protocol with the bench, all through DIR (created if missing):
 *   DIR/pids            one pid per line, every process, appended once its locks are set.
 *   DIR/ready           written by the first process when every process holds its locks.
 *   SIGUSR1             every process drops ALL its locks (its fds stay open) and then creates
 *                       DIR/dropped.<pid>. The locks are "lost", as after a restore without locks.
 *   SIGTERM             exit; children also die with their parent (PR_SET_PDEATHSIG).
 *   DIR/lockcpu         "PID NANOSECONDS" per process: the thread CPU time of its lock calls alone
 *                       (its files were opened beforehand), the kernel's own cost of the locks.
 * A setup failure is printed to stderr and the whole workload exits 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { POSIX_FILES_MAX = 4, FD_HEADROOM = 64 };

/* How many locks of each kind one process holds. */
struct LockMix {
    int posix, ofd, flocks, leases;
};

/* The fds a process keeps open for its whole life, so that dropping a lock never closes one. */
struct HeldFiles {
    int posixFds[POSIX_FILES_MAX];
    int posixFileCount;
    int ofdFd;
    int *flockFds;
    int flockCount;
    int *leaseFds;
    int leaseCount;
};

static const char *dataDir;
static int processIndex; /* 0 for the first process; names the files of each process apart */
static volatile sig_atomic_t dropRequested;
static volatile sig_atomic_t terminateRequested;
static int leadsGroup; /* the workload has its own process group: fail() may kill all of it */

__attribute__((noreturn, format(printf, 1, 2))) static void fail(const char *format, ...) {
    int savedErrno = errno;
    char message[1024];
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(message, sizeof message, format, arguments);
    va_end(arguments);
    fprintf(stderr, "lockload pid %d: %s: %s\n", getpid(), message, strerror(savedErrno));
    /* The first process leads a process group of the whole workload: take everyone down. */
    if (leadsGroup) kill(0, SIGKILL);
    _exit(1);
}

static void pathOf(char *path, size_t size, const char *format, ...) {
    char name[256];
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(name, sizeof name, format, arguments);
    va_end(arguments);
    if ((size_t)snprintf(path, size, "%s/%s", dataDir, name) >= size) {
        errno = ENAMETOOLONG;
        fail("path %s/%s", dataDir, name);
    }
}

static void appendLine(const char *name, const char *text) {
    char path[4096];
    pathOf(path, sizeof path, "%s", name);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) fail("open %s", path);
    /* One write with O_APPEND: lines of concurrent processes never interleave. */
    if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) fail("write %s", path);
    close(fd);
}

static void touch(const char *name) { appendLine(name, ""); }

static int createFile(const char *name, int openFlags) {
    char path[4096];
    pathOf(path, sizeof path, "%s", name);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) fail("create %s", path);
    if (openFlags == O_RDWR) return fd;
    /* A read lease needs a file nobody has open for writing (fs/locks.c check_conflicting_open). */
    close(fd);
    fd = open(path, openFlags | O_CLOEXEC);
    if (fd < 0) fail("reopen %s", path);
    return fd;
}

static void raiseFileLimit(int fdsNeeded) {
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) fail("getrlimit RLIMIT_NOFILE");
    rlim_t wanted = (rlim_t)fdsNeeded + FD_HEADROOM;
    if (limit.rlim_cur >= wanted) return;
    limit.rlim_cur = wanted;
    if (limit.rlim_max < wanted) limit.rlim_max = wanted; /* needs CAP_SYS_RESOURCE */
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) fail("setrlimit RLIMIT_NOFILE to %llu", (unsigned long long)wanted);
}

static void setRangeLock(int fd, int command, off_t offset, const char *what) {
    struct flock lock = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = offset, .l_len = 1};
    if (fcntl(fd, command, &lock) != 0) fail("%s lock at byte %lld", what, (long long)offset);
}

static void clearRangeLocks(int fd, int command, const char *what) {
    struct flock lock = {.l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    if (fcntl(fd, command, &lock) != 0) fail("%s unlock", what);
}

/* Opens every file a process will lock, before any lock is set: the lock loops alone are timed. */
static void openFiles(const struct LockMix *mix, struct HeldFiles *held) {
    char name[256];
    held->posixFileCount = mix->posix == 0 ? 0 : mix->posix < POSIX_FILES_MAX ? mix->posix : POSIX_FILES_MAX;
    for (int file = 0; file < held->posixFileCount; file++) {
        snprintf(name, sizeof name, "p%d.posix.%d", processIndex, file);
        held->posixFds[file] = createFile(name, O_RDWR);
    }
    held->ofdFd = -1;
    if (mix->ofd > 0) {
        snprintf(name, sizeof name, "p%d.ofd", processIndex);
        held->ofdFd = createFile(name, O_RDWR);
    }
    held->flockCount = mix->flocks;
    held->flockFds = calloc(mix->flocks + 1, sizeof(int));
    if (held->flockFds == NULL) fail("allocate %d flock fds", mix->flocks);
    for (int i = 0; i < mix->flocks; i++) {
        snprintf(name, sizeof name, "p%d.flock.%d", processIndex, i);
        held->flockFds[i] = createFile(name, O_RDWR);
    }
    held->leaseCount = mix->leases;
    held->leaseFds = calloc(mix->leases + 1, sizeof(int));
    if (held->leaseFds == NULL) fail("allocate %d lease fds", mix->leases);
    for (int i = 0; i < mix->leases; i++) {
        snprintf(name, sizeof name, "p%d.lease.%d", processIndex, i);
        held->leaseFds[i] = createFile(name, O_RDONLY);
    }
}

/* POSIX locks spread over the files at even offsets ([0,0], [2,2], ...: they never merge), OFD
 * locks likewise on one description, one flock per flock fd, one read lease per lease fd. */
static void setLocks(const struct LockMix *mix, const struct HeldFiles *held) {
    for (int i = 0; i < mix->posix; i++)
        setRangeLock(held->posixFds[i % held->posixFileCount], F_SETLK, 2 * (off_t)(i / held->posixFileCount), "POSIX");
    for (int i = 0; i < mix->ofd; i++) setRangeLock(held->ofdFd, F_OFD_SETLK, 2 * (off_t)i, "OFD");
    for (int i = 0; i < mix->flocks; i++)
        if (flock(held->flockFds[i], LOCK_EX | LOCK_NB) != 0) fail("flock fd %d", held->flockFds[i]);
    for (int i = 0; i < mix->leases; i++)
        if (fcntl(held->leaseFds[i], F_SETLEASE, F_RDLCK) != 0) fail("read lease on fd %d", held->leaseFds[i]);
}

static long long threadCpuNanoseconds(void) {
    struct timespec now;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now) != 0) fail("clock_gettime CLOCK_THREAD_CPUTIME_ID");
    return (long long)now.tv_sec * 1000000000LL + now.tv_nsec;
}

/* Opens the files, then sets the locks and appends "PID NANOSECONDS\n" to DIR/lockcpu: the CPU
 * time this thread spent in its lock calls alone, the kernel's own cost of setting these locks
 * (part of the floor of a replay, which sets the same locks again). */
static void takeLocks(const struct LockMix *mix, struct HeldFiles *held) {
    openFiles(mix, held);
    long long before = threadCpuNanoseconds();
    setLocks(mix, held);
    long long spent = threadCpuNanoseconds() - before;
    char line[64];
    snprintf(line, sizeof line, "%d %lld\n", getpid(), spent);
    appendLine("lockcpu", line);
}

static void dropLocks(const struct HeldFiles *held) {
    for (int file = 0; file < held->posixFileCount; file++) clearRangeLocks(held->posixFds[file], F_SETLK, "POSIX");
    if (held->ofdFd >= 0) clearRangeLocks(held->ofdFd, F_OFD_SETLK, "OFD");
    for (int i = 0; i < held->flockCount; i++)
        if (flock(held->flockFds[i], LOCK_UN) != 0) fail("flock LOCK_UN fd %d", held->flockFds[i]);
    /* A lease lockcr put back through pidfd_getfd sits on this same open file description.
     * Unlocking a lease that is not there fails with EAGAIN (fs/locks.c generic_delete_lease):
     * after a replay that failed and rolled back, that is the expected state. */
    for (int i = 0; i < held->leaseCount; i++)
        if (fcntl(held->leaseFds[i], F_SETLEASE, F_UNLCK) != 0 && errno != EAGAIN)
            fail("lease unlock fd %d", held->leaseFds[i]);
}

static void onDrop(int signalNumber) {
    (void)signalNumber;
    dropRequested = 1;
}

static void onTerminate(int signalNumber) {
    (void)signalNumber;
    terminateRequested = 1;
}

/* Sleeps until SIGTERM, dropping every lock on each SIGUSR1. Signals are blocked outside
 * sigsuspend so none is lost between the checks and the sleep. */
static void serve(const struct HeldFiles *held) {
    sigset_t waiting;
    sigprocmask(SIG_SETMASK, NULL, &waiting);
    sigdelset(&waiting, SIGUSR1);
    sigdelset(&waiting, SIGTERM);
    while (!terminateRequested) {
        if (dropRequested) {
            dropRequested = 0;
            dropLocks(held);
            char name[64];
            snprintf(name, sizeof name, "dropped.%d", getpid());
            touch(name);
            continue;
        }
        sigsuspend(&waiting);
    }
}

static void installHandlers(void) {
    sigset_t blocked;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGUSR1);
    sigaddset(&blocked, SIGTERM);
    sigprocmask(SIG_BLOCK, &blocked, NULL);
    struct sigaction drop = {.sa_handler = onDrop};
    struct sigaction terminate = {.sa_handler = onTerminate};
    sigaction(SIGUSR1, &drop, NULL);
    sigaction(SIGTERM, &terminate, NULL);
    /* Nobody should break a lease here, but if someone does, do not die of SIGIO. */
    signal(SIGIO, SIG_IGN);
}

static void announce(void) {
    char line[32];
    snprintf(line, sizeof line, "%d\n", getpid());
    appendLine("pids", line);
}

static struct LockMix mixFor(int locks) {
    struct LockMix mix;
    mix.leases = locks * 5 / 100;
    mix.flocks = locks * 20 / 100;
    mix.ofd = locks * 25 / 100;
    mix.posix = locks - mix.leases - mix.flocks - mix.ofd;
    return mix;
}

static int fdsFor(const struct LockMix *mix) {
    return POSIX_FILES_MAX + 1 + mix->flocks + mix->leases;
}

static long parseCount(const char *text, const char *what, long minimum) {
    char *end;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < minimum || value > 10000000) {
        fprintf(stderr, "lockload: %s \"%s\" is not a number >= %ld\n", what, text, minimum);
        exit(2);
    }
    return value;
}

static void usage(void) {
    fprintf(stderr, "usage: lockload flocks [PROCS] N DIR\n       lockload mixed PROCS TOTAL DIR\n");
    exit(2);
}

/* The first process forks the others, each with its share of the locks (all flocks, or the mix);
 * each reports on a pipe when its locks are set, and the first writes DIR/ready once all have. */
static void runProcesses(int processes, long total, int flocksOnly) {
    int readyPipe[2];
    if (pipe2(readyPipe, O_CLOEXEC) != 0) fail("pipe");
    pid_t parent = getpid();
    for (int index = 1; index < processes; index++) {
        pid_t child = fork();
        if (child < 0) fail("fork child %d", index);
        if (child > 0) continue;
        processIndex = index;
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) fail("PR_SET_PDEATHSIG");
        if (getppid() != parent) _exit(1); /* the parent died before PDEATHSIG was set */
        close(readyPipe[0]);
        break;
    }
    long share = total / processes + (processIndex < total % processes ? 1 : 0);
    struct LockMix mix = flocksOnly ? (struct LockMix){.flocks = (int)share} : mixFor((int)share);
    raiseFileLimit(fdsFor(&mix));
    struct HeldFiles held;
    takeLocks(&mix, &held);
    announce();
    if (processIndex != 0) {
        if (write(readyPipe[1], "r", 1) != 1) fail("report ready");
        close(readyPipe[1]);
        serve(&held);
        _exit(0);
    }
    close(readyPipe[1]);
    for (int reported = 0; reported < processes - 1;) {
        char byte;
        ssize_t got = read(readyPipe[0], &byte, 1);
        if (got == 1) reported++;
        else if (got == 0) fail("a child exited before its locks were set");
        else if (errno != EINTR) fail("read ready pipe");
    }
    close(readyPipe[0]);
    touch("ready");
    serve(&held);
    signal(SIGTERM, SIG_IGN);
    kill(0, SIGTERM);
    while (wait(NULL) > 0 || errno == EINTR) {
    }
}

int main(int argc, char **argv) {
    if (argc < 2) usage();
    int processes;
    long total;
    int flocksOnly = strcmp(argv[1], "flocks") == 0;
    if (flocksOnly && (argc == 4 || argc == 5)) {
        processes = argc == 5 ? (int)parseCount(argv[2], "PROCS", 1) : 1;
        total = parseCount(argv[argc - 2], "N", 0);
        dataDir = argv[argc - 1];
    } else if (strcmp(argv[1], "mixed") == 0 && argc == 5) {
        processes = (int)parseCount(argv[2], "PROCS", 1);
        total = parseCount(argv[3], "TOTAL", 0);
        dataDir = argv[4];
    } else {
        usage();
    }
    /* Own process group, so a failure or the end takes exactly this workload down. */
    if (getpgrp() != getpid() && setpgid(0, 0) != 0) fail("setpgid");
    leadsGroup = 1;
    if (mkdir(dataDir, 0755) != 0 && errno != EEXIST) fail("mkdir %s", dataDir);
    installHandlers();

    runProcesses(processes, total, flocksOnly);
    return 0;
}
