/*
 * lockholder: the demo container's workload. Runs as the container's init and holds one of every
 * lock kind lockcr must carry across a checkpoint, then sleeps forever.
 *
 * Usage: lockholder [DATA_DIR]        (default /data, created if missing)
 *
 * What it holds once DATA_DIR/ready exists (offsets are bytes, "EOF" means to end of file):
 *   init           POSIX WRITE [0,99] and POSIX READ [200,EOF] on posix.dat (fd POSIX_FD, plus a
 *                  dup of it); OFD WRITE [0,49] on ofd.dat; FLOCK EX on flock.dat (taken before
 *                  any fork, so every child shares that open file description); a read LEASE on
 *                  lease.dat (O_RDONLY, F_SETOWN = itself, F_SETSIG = SIGUSR1).
 *   inheritor      POSIX WRITE [100,149] on the posix.dat fd inherited from init (the case CRIU's
 *                  discard_dup_locks_tail drops).
 *   threaded       2 extra threads; POSIX WRITE [150,199] on the inherited dup of posix.dat.
 *   waiter         blocked in F_SETLKW for POSIX WRITE [0,99] on its own open of posix.dat.
 * DATA_DIR/pids lists "ROLE PID" (pids as seen inside the container). Anything unexpected that
 * happens later (a lease break, the waiter getting its lock) is appended to DATA_DIR/events.log;
 * a setup failure goes to DATA_DIR/error.log and the program exits 1.
 *
 * Standard streams are reopened on /dev/null: CRIU cannot dump a host's stdio files.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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

enum { MAX_CHILDREN = 8, FILE_SIZE = 4096 };

static const char *dataDir = "/data";
static pid_t children[MAX_CHILDREN];
static int childCount;
static volatile sig_atomic_t terminateRequested;
static volatile sig_atomic_t leaseBreaks;

__attribute__((format(printf, 2, 3))) static void appendLine(const char *name, const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    appendLineIn(dataDir, name, format, arguments);
    va_end(arguments);
}

static void killChildren(void) {
    for (int i = 0; i < childCount; i++) kill(children[i], SIGKILL);
}

__attribute__((noreturn, format(printf, 1, 2))) static void fail(const char *format, ...) {
    int savedErrno = errno;
    char message[768];
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(message, sizeof message, format, arguments);
    va_end(arguments);
    appendLine("error.log", "lockholder pid %d: %s: %s", getpid(), message, strerror(savedErrno));
    killChildren();
    _exit(1);
}

static void onTerminate(int signalNumber) {
    (void)signalNumber;
    terminateRequested = 1;
}

static void onLeaseBreak(int signalNumber) {
    (void)signalNumber;
    leaseBreaks++;
}

static void reapChildren(void) {
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
}

static void onChild(int signalNumber) {
    (void)signalNumber;
    int savedErrno = errno;
    reapChildren();
    errno = savedErrno;
}

static void installHandler(int signalNumber, void (*handler)(int)) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = handler;
    action.sa_flags = SA_RESTART;
    sigemptyset(&action.sa_mask);
    if (sigaction(signalNumber, &action, NULL) != 0) fail("sigaction %d", signalNumber);
}

static void createFile(const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dataDir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) fail("create %s", path);
    char block[FILE_SIZE];
    for (size_t i = 0; i < sizeof block; i++) block[i] = 'a' + (char)(i % 26);
    if (write(fd, block, sizeof block) != (ssize_t)sizeof block) fail("write %s", path);
    close(fd);
}

static int openData(const char *name, int flags) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dataDir, name);
    int fd = open(path, flags);
    if (fd < 0) fail("open %s", path);
    return fd;
}

static void setPosixLock(int fd, int command, short type, off_t start, off_t length,
                         const char *what) {
    struct flock lock = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = length};
    while (fcntl(fd, command, &lock) != 0) {
        if (errno != EINTR) fail("%s", what);
    }
}

/* The calling child dies with init, and does not run init's handlers. */
static void becomeChild(pid_t parent) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) _exit(1);
    if (getppid() != parent) _exit(1);
    childCount = 0; /* fail() in a child must not kill its siblings */
    signal(SIGTERM, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
}

static void pauseForever(void) {
    for (;;) pause();
}

/* Forks a child that runs body(argument) and never returns; the parent learns that the child is
 * in place when it writes one byte to the pipe (or the pipe closes: then setup failed). */
static pid_t spawn(const char *role, void (*body)(int readyFd, int argument), int argument) {
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) != 0) fail("pipe for %s", role);
    pid_t parent = getpid();
    pid_t child = fork();
    if (child < 0) fail("fork %s", role);
    if (child == 0) {
        close(ready[0]);
        becomeChild(parent);
        body(ready[1], argument);
        _exit(1);
    }
    close(ready[1]);
    children[childCount++] = child;
    char byte;
    ssize_t got;
    do got = read(ready[0], &byte, 1);
    while (got < 0 && errno == EINTR);
    close(ready[0]);
    if (got != 1) {
        errno = EPROTO;
        fail("%s (pid %d) did not get into place (see error.log)", role, child);
    }
    appendLine("pids", "%s %d", role, child);
    return child;
}

static void signalReady(int readyFd) {
    if (write(readyFd, "x", 1) != 1) _exit(1);
    close(readyFd);
}

static void inheritorBody(int readyFd, int posixFd) {
    setPosixLock(posixFd, F_SETLK, F_WRLCK, 100, 50, "inheritor: POSIX WRITE [100,149]");
    signalReady(readyFd);
    pauseForever();
}

static void *sleepingThread(void *unused) {
    (void)unused;
    pauseForever();
    return NULL;
}

static void threadedBody(int readyFd, int duplicateFd) {
    for (int i = 0; i < 2; i++) {
        pthread_t thread;
        int error = pthread_create(&thread, NULL, sleepingThread, NULL);
        if (error != 0) {
            errno = error;
            fail("threaded: pthread_create");
        }
    }
    setPosixLock(duplicateFd, F_SETLK, F_WRLCK, 150, 50, "threaded: POSIX WRITE [150,199]");
    signalReady(readyFd);
    pauseForever();
}

static void waiterBody(int readyFd, int unused) {
    (void)unused;
    int fd = openData("posix.dat", O_RDWR | O_CLOEXEC);
    /* Ready is signalled before blocking; init then watches /proc/locks for the "->" line. */
    signalReady(readyFd);
    setPosixLock(fd, F_SETLKW, F_WRLCK, 0, 100, "waiter: POSIX WRITE [0,99] (wait)");
    /* Only reached if init's lock went away while init lives: a lost lock, worth recording. */
    appendLine("events.log", "waiter pid %d: got POSIX WRITE [0,99]", getpid());
    pauseForever();
}

/* The waiter has no way to say it is blocked; the kernel does: a "-> POSIX ... WRITE PID" line. */
static int waiterIsBlocked(pid_t waiter) {
    FILE *locks = fopen("/proc/locks", "re");
    if (locks == NULL) return 0;
    char line[512];
    char needle[64];
    snprintf(needle, sizeof needle, " WRITE %d ", (int)waiter);
    int found = 0;
    while (!found && fgets(line, sizeof line, locks) != NULL) {
        found = strstr(line, "-> POSIX") != NULL && strstr(line, needle) != NULL;
    }
    fclose(locks);
    return found;
}

static void waitUntilBlocked(pid_t waiter) {
    for (int attempt = 0; attempt < 1000; attempt++) {
        if (waiterIsBlocked(waiter)) return;
        struct timespec pauseTime = {0, 10 * 1000 * 1000};
        nanosleep(&pauseTime, NULL);
    }
    errno = ETIMEDOUT;
    fail("waiter (pid %d) never showed as blocked in /proc/locks", waiter);
}

static void removeStaleMarkers(void) {
    const char *names[] = {"ready", "pids", "error.log", "events.log"};
    char path[4096];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dataDir, names[i]);
        unlink(path);
    }
}

static void markReady(void) {
    char failed[4096];
    if (markReadyIn(dataDir, failed) != 0) fail("%s", failed);
}

int main(int argc, char **argv) {
    if (argc > 1) dataDir = argv[1];
    reopenStandardStreams();
    if (mkdir(dataDir, 0755) != 0 && errno != EEXIST) _exit(1);
    removeStaleMarkers();

    /* As pid 1 of a pid namespace, signals without a handler are ignored: SIGTERM needs one. */
    installHandler(SIGTERM, onTerminate);
    installHandler(SIGINT, onTerminate);
    installHandler(SIGUSR1, onLeaseBreak);
    installHandler(SIGCHLD, onChild);
    appendLine("pids", "init %d", getpid());

    const char *files[] = {"posix.dat", "ofd.dat", "flock.dat", "lease.dat"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) createFile(files[i]);

    /* Before any fork: every child inherits this description, so the flock is shared. */
    int flockFd = openData("flock.dat", O_RDWR);
    if (flock(flockFd, LOCK_EX | LOCK_NB) != 0) fail("FLOCK EX flock.dat");

    int posixFd = openData("posix.dat", O_RDWR);
    setPosixLock(posixFd, F_SETLK, F_WRLCK, 0, 100, "POSIX WRITE [0,99] posix.dat");
    setPosixLock(posixFd, F_SETLK, F_RDLCK, 200, 0, "POSIX READ [200,EOF] posix.dat");
    int duplicateFd = dup(posixFd);
    if (duplicateFd < 0) fail("dup posix.dat");

    int ofdFd = openData("ofd.dat", O_RDWR);
    struct flock ofdLock = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 50};
    if (fcntl(ofdFd, F_OFD_SETLK, &ofdLock) != 0) fail("OFD WRITE [0,49] ofd.dat");

    /* A read lease needs a read-only open and no writer anywhere: createFile closed its fd. */
    int leaseFd = openData("lease.dat", O_RDONLY);
    if (fcntl(leaseFd, F_SETOWN, getpid()) != 0) fail("F_SETOWN lease.dat");
    if (fcntl(leaseFd, F_SETSIG, SIGUSR1) != 0) fail("F_SETSIG lease.dat");
    if (fcntl(leaseFd, F_SETLEASE, F_RDLCK) != 0) fail("LEASE READ lease.dat");

    spawn("inheritor", inheritorBody, posixFd);
    spawn("threaded", threadedBody, duplicateFd);
    pid_t waiter = spawn("waiter", waiterBody, 0);
    waitUntilBlocked(waiter);
    markReady();

    int reportedBreaks = 0;
    while (!terminateRequested) {
        pause();
        reapChildren();
        if (leaseBreaks != reportedBreaks) {
            reportedBreaks = leaseBreaks;
            appendLine("events.log", "init: lease break signal %d received", reportedBreaks);
        }
    }
    killChildren();
    return 0;
}
