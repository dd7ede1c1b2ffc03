/*
 * zdtmload: the lock scenarios of CRIU's zdtm tests (test/zdtm/static/file_locks00..08,
 * file_lease00..04) and the seed's blocked waiter, set up inside a container for
 * tests/container/zdtm_test.sh. Written from the scenarios' descriptions; no zdtm code.
 *
 * Usage: zdtmload [-d DATA_DIR] SCENARIO...     (DATA_DIR defaults to /data)
 *
 * The process itself is only a supervisor (the container's init): for each SCENARIO it forks a
 * leader, which plays the zdtm test's main process in DATA_DIR/SCENARIO/ (files created fresh),
 * forks the children the scenario needs, and sleeps forever. Children die with their leader,
 * leaders with the supervisor (PR_SET_PDEATHSIG). Once every scenario is in place DATA_DIR/ready
 * exists; DATA_DIR/pids lists "SCENARIO ROLE PID" (pids as seen inside the container).
 *
 *   locks00  leader: POSIX READ [0,EOF] on file.0, POSIX WRITE [0,EOF] on file.1; a child forked
 *            before the locks holds both fds (it must see the leader as the owner).
 *   locks01  leader: FLOCK READ on file.0, FLOCK WRITE on file.1, file.2 open and unlocked.
 *   locks02  leader: FLOCK WRITE on file, then a child: the description (and lock) is shared.
 *   locks03  as locks02, then the leader closes its fd: only the child holds the flock.
 *   locks04  as locks03, then the leader reopens the file read-only (a second description,
 *            whose flock LOCK_EX|LOCK_NB must fail).
 *   locks05  leader: two opens of file, FLOCK READ on the first only.
 *   locks06  leader: OFD WRITE [0,EOF] on file.
 *   locks07  leader: four opens of file, OFD READ [0,19] [10,39] [0,99] [70,269], one each.
 *   locks08  leader: OFD WRITE [0,EOF] on file, then a child sharing the description.
 *   lease00  leader: read lease on file.0 (O_RDONLY), write lease on file.1 (O_WRONLY).
 *   lease01  leader: three read-only opens of file; read leases on the first and the third.
 *   lease02  leader, F_SETSIG SIGIO on each: breaking leases: file.0 read lease broken by a
 *            writer (-> UNLCK), file.1 write lease broken by a reader (-> READ), file.2 write
 *            lease broken by a writer (-> UNLCK). The breakers were non-blocking opens.
 *   lease03  leader: O_RDWR file, write lease broken by a writer (-> UNLCK), F_SETSIG SIGIO;
 *            then a child sharing the description and a dup in the leader.
 *   lease04  as lease03 without the dup, and the leader closes its fd: the lease's owner (the
 *            leader, F_SETOWN) holds no fd of it; only the child does.
 *   wlease   leader: O_RDWR file of 4 KiB, write lease, F_SETSIG SIGIO (not a zdtm test): CRIU's
 *            default file validation (build-id) reopens every regular file of 5 bytes or more at
 *            dump, which breaks such a lease (a ghost SIGIO, a 45 s stall, a lease downgraded
 *            under --leave-running); `file-validation filesize` in the CRIU config avoids it.
 *   waiter        leader: POSIX WRITE [0,99] on file; child "waiter" blocked in F_SETLKW on it
 *                 through its own open (the seed's P1/P2 case).
 *   waiter_ofd    leader: OFD WRITE [0,49] on file; child "waiter" blocked in F_OFD_SETLKW.
 *   waiter_flock  leader: FLOCK WRITE on file; child "waiter" blocked in flock(LOCK_EX).
 *                 In all three the waiter also inherits the leader's fd: for OFD and flock it
 *                 shares the holding description, and waits through a second one of its own.
 *
 * Anything that happens after DATA_DIR/ready is appended to DATA_DIR/events.log, one line each:
 * a signal reaching a process ("SCENARIO ROLE pid P: signal S si_fd F", as the zdtm lease tests'
 * "ghost signal" check), a waiter getting its lock, a leader exiting. A setup failure goes to
 * DATA_DIR/error.log and the process exits 1. Standard streams are reopened on /dev/null inside
 * the container: CRIU cannot dump a host's stdio files.
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "workload_common.h"

enum { MAX_SCENARIOS = 32, FILE_SIZE = 4096 };

static const char *dataDir = "/data";
static const char *scenario = "supervisor"; /* the scenario this process plays a part in */
static const char *role = "supervisor";
static char scenarioDir[2048];

/* Set by the SIGIO / lease-break handler, reported by the process's main loop (the handler itself
 * only stores: nothing in it needs to be async-signal-safe). */
static volatile sig_atomic_t signalsReceived;
static volatile sig_atomic_t lastSignal;
static volatile sig_atomic_t lastSignalFd = -1;
static volatile sig_atomic_t terminateRequested;

__attribute__((format(printf, 2, 3))) static void appendLine(const char *name, const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    appendLineIn(dataDir, name, format, arguments);
    va_end(arguments);
}

__attribute__((noreturn, format(printf, 1, 2))) static void fail(const char *format, ...) {
    int savedErrno = errno;
    char message[768];
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(message, sizeof message, format, arguments);
    va_end(arguments);
    appendLine("error.log", "zdtmload %s %s pid %d: %s: %s", scenario, role, getpid(), message,
               strerror(savedErrno));
    /* The supervisor's group: every leader and child goes with it (they die with their parent). */
    _exit(1);
}

static void onSignal(int signalNumber, siginfo_t *information, void *context) {
    (void)context;
    lastSignal = signalNumber;
    lastSignalFd = information->si_fd;
    signalsReceived++;
}

static void onTerminate(int signalNumber) {
    (void)signalNumber;
    terminateRequested = 1;
}

static void installSignalRecorder(int signalNumber) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = onSignal;
    action.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&action.sa_mask);
    if (sigaction(signalNumber, &action, NULL) != 0) fail("sigaction %d", signalNumber);
}

/* Sleeps until killed, reporting every recorded signal to events.log. */
__attribute__((noreturn)) static void sleepForever(void) {
    int reported = signalsReceived;
    for (;;) {
        pause();
        while (reported != signalsReceived) {
            reported++;
            appendLine("events.log", "%s %s pid %d: signal %d si_fd %d", scenario, role, getpid(),
                       (int)lastSignal, (int)lastSignalFd);
        }
    }
}

static const char *pathOf(const char *name) {
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", scenarioDir, name);
    return path;
}

/* A fresh file of FILE_SIZE bytes: offsets in the scenarios lie inside it. */
static void createFile(const char *name) {
    const char *path = pathOf(name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) fail("create %s", path);
    char block[FILE_SIZE];
    memset(block, 'z', sizeof block);
    if (write(fd, block, sizeof block) != (ssize_t)sizeof block) fail("write %s", path);
    close(fd);
}

static int openFile(const char *name, int flags) {
    const char *path = pathOf(name);
    int fd = open(path, flags, 0644);
    if (fd < 0) fail("open %s (flags %#x)", path, flags);
    return fd;
}

static void byteLock(int fd, int command, short type, off_t start, off_t length, const char *what) {
    struct flock lock = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = length};
    while (fcntl(fd, command, &lock) != 0) {
        if (errno != EINTR) fail("%s", what);
    }
}

static void flockOrFail(int fd, int operation, const char *what) {
    while (flock(fd, operation) != 0) {
        if (errno != EINTR) fail("%s", what);
    }
}

/* Forks a child of the calling process that runs body() and never returns. The child dies with
 * its parent and is listed in pids; the parent continues at once. */
static pid_t forkChild(const char *childRole, void (*body)(void)) {
    pid_t parent = getpid();
    pid_t child = fork();
    if (child < 0) fail("fork %s", childRole);
    if (child == 0) {
        role = childRole;
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(1);
        body();
        _exit(1);
    }
    appendLine("pids", "%s %s %d", scenario, childRole, child);
    return child;
}

/* --- The zdtm scenarios (each runs in its leader, in scenarioDir) ------------------------------ */

static void locks00(void) {
    int readLocked = openFile("file.0", O_RDWR | O_CREAT | O_EXCL);
    int writeLocked = openFile("file.1", O_RDWR | O_CREAT | O_EXCL);
    forkChild("child", sleepForever);
    byteLock(readLocked, F_SETLK, F_RDLCK, 0, 0, "POSIX READ [0,EOF] file.0");
    byteLock(writeLocked, F_SETLK, F_WRLCK, 0, 0, "POSIX WRITE [0,EOF] file.1");
}

static void locks01(void) {
    int shared = openFile("file.0", O_RDWR | O_CREAT | O_EXCL);
    int exclusive = openFile("file.1", O_RDWR | O_CREAT | O_EXCL);
    openFile("file.2", O_RDWR | O_CREAT | O_EXCL);
    flockOrFail(shared, LOCK_SH | LOCK_NB, "FLOCK READ file.0");
    flockOrFail(exclusive, LOCK_EX | LOCK_NB, "FLOCK WRITE file.1");
}

static int flockedThenForked(void) {
    int fd = openFile("file", O_RDWR | O_CREAT);
    flockOrFail(fd, LOCK_EX | LOCK_NB, "FLOCK WRITE file");
    forkChild("child", sleepForever);
    return fd;
}

static void locks02(void) { flockedThenForked(); }

static void locks03(void) { close(flockedThenForked()); }

static void locks04(void) {
    close(flockedThenForked());
    int reopened = openFile("file", O_RDONLY);
    if (flock(reopened, LOCK_EX | LOCK_NB) == 0) fail("FLOCK WRITE on a second open of file was granted");
    if (errno != EWOULDBLOCK) fail("FLOCK WRITE on a second open of file");
}

static void locks05(void) {
    int locked = openFile("file", O_RDWR | O_CREAT);
    openFile("file", O_RDWR);
    flockOrFail(locked, LOCK_SH | LOCK_NB, "FLOCK READ file");
}

static void locks06(void) {
    byteLock(openFile("file", O_RDWR | O_CREAT), F_OFD_SETLK, F_WRLCK, 0, 0, "OFD WRITE [0,EOF] file");
}

static void locks07(void) {
    static const off_t starts[] = {0, 10, 0, 70};
    static const off_t lengths[] = {20, 30, 100, 200};
    int fds[4];
    for (int i = 0; i < 4; i++) fds[i] = openFile("file", O_RDWR | O_CREAT);
    for (int i = 0; i < 4; i++) byteLock(fds[i], F_OFD_SETLKW, F_RDLCK, starts[i], lengths[i], "OFD READ file");
}

static void locks08(void) {
    byteLock(openFile("file", O_RDWR | O_CREAT), F_OFD_SETLKW, F_WRLCK, 0, 0, "OFD WRITE [0,EOF] file");
    forkChild("child", sleepForever);
}

static void setLease(int fd, int type, const char *what) {
    if (fcntl(fd, F_SETLEASE, type) != 0) fail("F_SETLEASE %s", what);
}

static void lease00(void) {
    setLease(openFile("file.0", O_RDONLY | O_CREAT), F_RDLCK, "READ file.0");
    setLease(openFile("file.1", O_WRONLY | O_CREAT), F_WRLCK, "WRITE file.1");
}

static void lease01(void) {
    int fds[3];
    for (int i = 0; i < 3; i++) fds[i] = openFile("file", O_RDONLY | O_CREAT);
    setLease(fds[0], F_RDLCK, "READ file (first open)");
    setLease(fds[2], F_RDLCK, "READ file (third open)");
}

/* A lease as the opening mode allows (read for O_RDONLY, else write), F_SETSIG SIGIO, then broken
 * by a non-blocking open in breakMode, which must fail with EWOULDBLOCK and signal this process
 * with si_fd = the lease's fd. The lease stays BREAKING for lease-break-time (45 s by default). */
static int breakingLease(const char *name, int openMode, int breakMode) {
    int fd = openFile(name, openMode | O_CREAT);
    setLease(fd, openMode == O_RDONLY ? F_RDLCK : F_WRLCK, name);
    if (fcntl(fd, F_SETSIG, SIGIO) != 0) fail("F_SETSIG SIGIO %s", name);
    int signalsBefore = signalsReceived;
    int breaker = open(pathOf(name), breakMode | O_NONBLOCK);
    if (breaker >= 0) {
        errno = 0;
        fail("a non-blocking open of %s did not meet the lease", name);
    }
    if (errno != EWOULDBLOCK) fail("non-blocking open of %s against the lease", name);
    /* The break signal is queued by the open itself; it is handled before open returns to us. */
    if (signalsReceived != signalsBefore + 1 || lastSignal != SIGIO || lastSignalFd != fd) {
        errno = EPROTO;
        fail("breaking the lease on %s: %d signal(s), last %d si_fd %d (want SIGIO si_fd %d)", name,
             signalsReceived - signalsBefore, (int)lastSignal, (int)lastSignalFd, fd);
    }
    return fd;
}

static void lease02(void) {
    breakingLease("file.0", O_RDONLY, O_WRONLY);
    breakingLease("file.1", O_WRONLY, O_RDONLY);
    breakingLease("file.2", O_WRONLY, O_WRONLY);
}

static void lease03(void) {
    int fd = breakingLease("file", O_RDWR, O_WRONLY);
    forkChild("child", sleepForever);
    if (dup(fd) < 0) fail("dup file");
}

static void writeLeaseOnData(void) {
    int fd = openFile("file", O_RDWR | O_CREAT);
    char block[4096];
    memset(block, 'x', sizeof block);
    if (write(fd, block, sizeof block) != (ssize_t)sizeof block) fail("write 4 KiB to file");
    setLease(fd, F_WRLCK, "WRITE file (4 KiB)");
    if (fcntl(fd, F_SETSIG, SIGIO) != 0) fail("F_SETSIG SIGIO file");
}

static void lease04(void) {
    int fd = breakingLease("file", O_RDWR, O_WRONLY);
    forkChild("child", sleepForever);
    close(fd);
}

/* --- Waiters: the leader holds, a child blocks on it through its own open ---------------------- */

static int waitedFd;
static int waitedKind; /* 'P' POSIX, 'O' OFD, 'F' flock */

static void waiterBody(void) {
    int fd = openFile("file", O_RDWR);
    if (waitedKind == 'F') flockOrFail(fd, LOCK_EX, "FLOCK WRITE file (wait)");
    else byteLock(fd, waitedKind == 'P' ? F_SETLKW : F_OFD_SETLKW, F_WRLCK, 0, waitedKind == 'P' ? 100 : 50,
                  "WRITE file (wait)");
    /* Only reached if the holder's lock went away while the holder lives: a lost lock. */
    appendLine("events.log", "%s %s pid %d: got the lock it waited for", scenario, role, getpid());
    sleepForever();
}

/* The kernel says when the waiter blocks: a "->" line on the file's inode in /proc/locks. */
static int someoneWaitsOn(int fd) {
    struct stat status;
    if (fstat(fd, &status) != 0) fail("fstat file");
    char needle[64];
    snprintf(needle, sizeof needle, ":%lu ", (unsigned long)status.st_ino);
    FILE *locks = fopen("/proc/locks", "re");
    if (locks == NULL) fail("open /proc/locks");
    char line[512];
    int found = 0;
    while (!found && fgets(line, sizeof line, locks) != NULL) found = strstr(line, "->") != NULL && strstr(line, needle) != NULL;
    fclose(locks);
    return found;
}

static void holdAndWait(int kind) {
    waitedKind = kind;
    waitedFd = openFile("file", O_RDWR);
    if (kind == 'P') byteLock(waitedFd, F_SETLK, F_WRLCK, 0, 100, "POSIX WRITE [0,99] file");
    else if (kind == 'O') byteLock(waitedFd, F_OFD_SETLK, F_WRLCK, 0, 50, "OFD WRITE [0,49] file");
    else flockOrFail(waitedFd, LOCK_EX | LOCK_NB, "FLOCK WRITE file");
    forkChild("waiter", waiterBody);
    for (int attempt = 0; !someoneWaitsOn(waitedFd); attempt++) {
        if (attempt == 1000) {
            errno = ETIMEDOUT;
            fail("the waiter never showed as blocked in /proc/locks");
        }
        struct timespec pauseTime = {0, 10 * 1000 * 1000};
        nanosleep(&pauseTime, NULL);
    }
}

static void waiter(void) { holdAndWait('P'); }
static void waiterOfd(void) { holdAndWait('O'); }
static void waiterFlock(void) { holdAndWait('F'); }

static const struct {
    const char *name;
    void (*setUp)(void);
    int needsFile; /* the scenario opens an existing "file" (the others create their own) */
} scenarios[] = {
    {"locks00", locks00, 0}, {"locks01", locks01, 0}, {"locks02", locks02, 0},
    {"locks03", locks03, 0}, {"locks04", locks04, 0}, {"locks05", locks05, 0},
    {"locks06", locks06, 0}, {"locks07", locks07, 0}, {"locks08", locks08, 0},
    {"lease00", lease00, 0}, {"lease01", lease01, 0}, {"lease02", lease02, 0},
    {"lease03", lease03, 0}, {"lease04", lease04, 0}, {"wlease", writeLeaseOnData, 0}, {"waiter", waiter, 1},
    {"waiter_ofd", waiterOfd, 1}, {"waiter_flock", waiterFlock, 1},
};
enum { SCENARIO_COUNT = sizeof scenarios / sizeof scenarios[0] };

/* --- The supervisor ---------------------------------------------------------------------------- */

/* A scenario directory left from an earlier run: its plain files, then itself. */
static void removeScenarioDir(const char *path) {
    static const char *names[] = {"file", "file.0", "file.1", "file.2"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char file[4200];
        snprintf(file, sizeof file, "%s/%s", path, names[i]);
        unlink(file);
    }
    rmdir(path);
}

/* Forks the leader of scenario INDEX; returns once it is in place (it writes one byte to the
 * pipe), or fails if it died first. */
static void startScenario(int index) {
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) != 0) fail("pipe for %s", scenarios[index].name);
    pid_t supervisor = getpid();
    pid_t leader = fork();
    if (leader < 0) fail("fork leader of %s", scenarios[index].name);
    if (leader == 0) {
        close(ready[0]);
        scenario = scenarios[index].name;
        role = "leader";
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != supervisor) _exit(1);
        signal(SIGTERM, SIG_DFL);
        signal(SIGCHLD, SIG_DFL);
        installSignalRecorder(SIGIO);
        snprintf(scenarioDir, sizeof scenarioDir, "%s/%s", dataDir, scenario);
        removeScenarioDir(scenarioDir);
        if (mkdir(scenarioDir, 0755) != 0) fail("mkdir %s", scenarioDir);
        if (scenarios[index].needsFile) createFile("file");
        scenarios[index].setUp();
        if (write(ready[1], "x", 1) != 1) _exit(1);
        close(ready[1]);
        sleepForever();
    }
    close(ready[1]);
    appendLine("pids", "%s leader %d", scenarios[index].name, leader);
    char byte;
    ssize_t got;
    do got = read(ready[0], &byte, 1);
    while (got < 0 && errno == EINTR);
    close(ready[0]);
    if (got != 1) {
        errno = EPROTO;
        fail("the leader of %s (pid %d) did not get into place (see error.log)", scenarios[index].name, leader);
    }
}

static void markReady(void) {
    char failed[4096];
    if (markReadyIn(dataDir, failed) != 0) fail("%s", failed);
}

static int scenarioIndex(const char *name) {
    for (int i = 0; i < SCENARIO_COUNT; i++)
        if (strcmp(scenarios[i].name, name) == 0) return i;
    return -1;
}

int main(int argc, char **argv) {
    int first = 1;
    if (argc > 2 && strcmp(argv[1], "-d") == 0) {
        dataDir = argv[2];
        first = 3;
    }
    if (first >= argc || argc - first > MAX_SCENARIOS) {
        fprintf(stderr, "usage: zdtmload [-d DATA_DIR] SCENARIO...\nscenarios:");
        for (int i = 0; i < SCENARIO_COUNT; i++) fprintf(stderr, " %s", scenarios[i].name);
        fprintf(stderr, "\n");
        return 2;
    }
    for (int i = first; i < argc; i++) {
        if (scenarioIndex(argv[i]) < 0) {
            fprintf(stderr, "zdtmload: unknown scenario '%s'\n", argv[i]);
            return 2;
        }
    }
    reopenStandardStreams();
    if (mkdir(dataDir, 0755) != 0 && errno != EEXIST) _exit(1);
    const char *markers[] = {"ready", "pids", "error.log", "events.log"};
    for (size_t i = 0; i < sizeof markers / sizeof markers[0]; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dataDir, markers[i]);
        unlink(path);
    }
    /* As pid 1 of a pid namespace, signals without a handler are ignored: SIGTERM needs one. */
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = onTerminate;
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGINT, &action, NULL);
    appendLine("pids", "supervisor supervisor %d", getpid());

    for (int i = first; i < argc; i++) startScenario(scenarioIndex(argv[i]));
    markReady();

    while (!terminateRequested) {
        int status;
        pid_t gone = wait(&status);
        if (gone < 0 && errno == ECHILD) pause();
        else if (gone > 0) appendLine("events.log", "supervisor: leader pid %d exited (status %#x)", gone, status);
    }
    return 0;
}
