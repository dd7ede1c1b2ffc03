/*
 * lockagent: a lock-taking process that integration tests drive line by line.
 *
 * Reads one command per line on stdin and writes exactly one reply line per command on stdout:
 * "ok [VALUES]" or "err ERRNO_NAME message" (e.g. "err EAGAIN Resource temporarily unavailable").
 * A command that blocks (a lock with "wait", "sleep") replies when it returns. FD numbers are the
 * agent's real descriptor numbers. End of stdin makes the agent exit; every child it forks gets
 * SIGKILL when the agent dies (PR_SET_PDEATHSIG).
 *
 *   open PATH r|w|rw             -> ok FD      (w and rw add O_CREAT, mode 0644)
 *   close FD | dup FD -> ok NEWFD | unlink PATH
 *   write FD TEXT                -> ok BYTES   (TEXT is one word, written at the file offset)
 *   posix FD r|w|u START LEN [wait]   F_SETLK, or F_SETLKW with "wait"; LEN 0 = to EOF
 *   ofd FD r|w|u START LEN [wait]     F_OFD_SETLK / F_OFD_SETLKW
 *   getlk FD r|w START LEN       -> ok u | ok r|w PID START LEN   (F_GETLK, LEN 0 = to EOF)
 *   flock FD sh|ex|un [wait]          LOCK_NB unless "wait"
 *   lease FD r|w|u | getlease FD -> ok r|w|u
 *   setown FD PID [pid|tid|pgrp] | getown FD -> ok pid|tid|pgrp PID      (F_SETOWN_EX/F_GETOWN_EX)
 *   setsig FD SIG | getsig FD -> ok SIG        (SIG: a number or a name such as USR1/SIGUSR1)
 *   sigcount SIG                 -> ok N       (how often that signal reached the agent's handler)
 *   sigfd SIG                    -> ok FD      (si_fd of the last one: the fd a lease break names)
 *   threads N                    -> ok         (N more threads that sleep forever, signals blocked)
 *   spawn-child-posix FD r|w START LEN -> ok CHILDPID  (child takes that POSIX lock on the
 *                                                inherited fd, then pauses; err if it cannot)
 *   spawn-child-sleep            -> ok CHILDPID  (child pauses, holding the inherited fds)
 *   fork IN_FIFO OUT_FIFO        -> ok CHILDPID  (child keeps every inherited fd but 0 and 1, which
 *                                                it reopens on the two FIFOs, and is an agent too)
 *   sleep                        (nanosleep forever: a target sitting in a syscall)
 *   pid -> ok PID | exit -> ok, then exits
 *   exec                         -> ok, then execs itself (/proc/self/exe): the same pid, every fd
 *                                                without FD_CLOEXEC kept, an agent again
 *   cloexec FD                   -> ok         (sets FD_CLOEXEC: an exec closes FD, and with it
 *                                                every POSIX lock the process has on that file)
 *   leader-exit                  -> ok, then the main thread exits and a new thread serves
 *   own-table-thread FD [START LEN] -> ok TID (a thread unshares its fd table, then takes a POSIX
 *                                                write lock on its copy of FD, if a range is given,
 *                                                and sleeps)
 *   setpgid [PGID]               -> ok PGID    (a process group of its own, led by the agent, or
 *                                                joins group PGID of the same session)
 *
 * Signals: the catchable signals that do not stop or kill the agent on purpose (USR1, USR2, IO,
 * ALRM, HUP, the real-time ones...) get a counting handler installed WITHOUT SA_RESTART, so a
 * signal interrupts a blocked "posix ... wait" or "sleep", which then replies "err EINTR ...".
 * A freeze, a ptrace stop or a checkpoint restarts the call instead: it later replies "ok". Tests
 * rely on that difference. SIGCHLD is ignored so children never linger as zombies.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

enum { MAX_WORDS = 8, MAX_LINE = 8192 };

static volatile sig_atomic_t signalCounts[65];
static volatile sig_atomic_t signalFds[65]; /* si_fd of the last one: lease breaks and SIGIO name the fd */

static void countSignal(int signalNumber, siginfo_t* info, void* context) {
    (void)context;
    if (signalNumber > 0 && signalNumber < 65) {
        signalCounts[signalNumber]++;
        signalFds[signalNumber] = info ? info->si_fd : -1;
    }
}

/* ---- replies ---------------------------------------------------------------------------------*/

static void writeLine(const char *line) {
    size_t length = strlen(line);
    while (length > 0) {
        ssize_t written = write(STDOUT_FILENO, line, length);
        if (written < 0 && errno == EINTR) continue;
        if (written <= 0) _exit(1); /* the test went away */
        line += written;
        length -= (size_t)written;
    }
}

__attribute__((format(printf, 1, 2))) static int replyOk(const char *format, ...) {
    char line[512] = "ok";
    if (format != NULL && format[0] != '\0') {
        line[2] = ' ';
        va_list arguments;
        va_start(arguments, format);
        vsnprintf(line + 3, sizeof line - 4, format, arguments);
        va_end(arguments);
    }
    strcat(line, "\n");
    writeLine(line);
    return 0;
}

static int replyErrno(int errnoValue) {
    char line[512];
    const char *name = strerrorname_np(errnoValue);
    char unknownName[32];
    if (name == NULL) {
        snprintf(unknownName, sizeof unknownName, "E%d", errnoValue);
        name = unknownName;
    }
    snprintf(line, sizeof line, "err %s %s\n", name, strerror(errnoValue));
    writeLine(line);
    return 0;
}

static int replyUsage(const char *message) {
    char line[512];
    snprintf(line, sizeof line, "err EINVAL usage: %s\n", message);
    writeLine(line);
    return 0;
}

/* Replies "ok" or the errno of a call that returned -1. */
static int replyResult(int result) {
    return result < 0 ? replyErrno(errno) : replyOk(NULL);
}

/* ---- argument parsing ------------------------------------------------------------------------*/

static int parseLong(const char *text, long long *value) {
    if (text == NULL || *text == '\0') return 0;
    char *end;
    errno = 0;
    *value = strtoll(text, &end, 10);
    return errno == 0 && *end == '\0';
}

static int parseFd(const char *text, int *fd) {
    long long value;
    if (!parseLong(text, &value) || value < 0 || value > INT_MAX) return 0;
    *fd = (int)value;
    return 1;
}

/* "r", "w", "u" -> F_RDLCK, F_WRLCK, F_UNLCK. */
static int parseLockType(const char *text, short *type) {
    if (text == NULL) return 0;
    if (strcmp(text, "r") == 0) *type = F_RDLCK;
    else if (strcmp(text, "w") == 0) *type = F_WRLCK;
    else if (strcmp(text, "u") == 0) *type = F_UNLCK;
    else return 0;
    return 1;
}

static const char *lockTypeName(int type) {
    return type == F_RDLCK ? "r" : type == F_WRLCK ? "w" : "u";
}

static int parseSignal(const char *text, int *signalNumber) {
    long long value;
    if (parseLong(text, &value)) {
        if (value < 0 || value > 64) return 0;
        *signalNumber = (int)value;
        return 1;
    }
    if (text == NULL) return 0;
    if (strncmp(text, "SIG", 3) == 0) text += 3;
    for (int number = 1; number < 65; number++) {
        const char *abbreviation = sigabbrev_np(number);
        if (abbreviation != NULL && strcmp(abbreviation, text) == 0) {
            *signalNumber = number;
            return 1;
        }
    }
    return 0;
}

/* "posix FD TYPE START LEN [wait]" and "ofd ...": a struct flock from words[1..4]. */
static int parseLockRange(char **words, int count, int *fd, struct flock *lock, int *wait) {
    long long start, length;
    if (count < 5 || count > 6 || !parseFd(words[1], fd) || !parseLockType(words[2], &lock->l_type) ||
        !parseLong(words[3], &start) || !parseLong(words[4], &length))
        return 0;
    if (count == 6 && strcmp(words[5], "wait") != 0) return 0;
    lock->l_whence = SEEK_SET;
    lock->l_start = start;
    lock->l_len = length;
    lock->l_pid = 0;
    *wait = count == 6;
    return 1;
}

/* ---- children --------------------------------------------------------------------------------*/

/* In the child: die with the agent; never return to the caller's stack on failure. */
static void becomeChild(pid_t parent) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) _exit(1);
    if (getppid() != parent) _exit(1);
}

static void pauseForever(void) {
    for (;;) pause();
}

/* Forks; the child runs body, which reports through the pipe: 0 = in place, else an errno. The
 * parent replies "ok CHILDPID" or the child's errno. Returns 1 in the child that should go on as
 * an agent (only for "fork"), 0 in the parent. */
static int forkChild(int (*body)(char **words), char **words) {
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) {
        replyErrno(errno);
        return 0;
    }
    pid_t parent = getpid();
    pid_t child = fork();
    if (child < 0) {
        replyErrno(errno);
        close(report[0]);
        close(report[1]);
        return 0;
    }
    if (child == 0) {
        close(report[0]);
        becomeChild(parent);
        int outcome = body(words);
        if (write(report[1], &outcome, sizeof outcome) != (ssize_t)sizeof outcome) _exit(1);
        close(report[1]);
        if (outcome != 0) _exit(1);
        if (strcmp(words[0], "fork") == 0) return 1;
        pauseForever();
    }
    close(report[1]);
    int outcome;
    ssize_t got;
    do got = read(report[0], &outcome, sizeof outcome);
    while (got < 0 && errno == EINTR);
    close(report[0]);
    if (got != (ssize_t)sizeof outcome)
        replyErrno(ECHILD);
    else if (outcome != 0)
        replyErrno(outcome);
    else
        replyOk("%d", (int)child);
    return 0;
}

static int childTakesPosixLock(char **words) {
    int fd;
    struct flock lock;
    int wait;
    /* words: spawn-child-posix FD TYPE START LEN */
    if (!parseLockRange(words, 5, &fd, &lock, &wait)) return EINVAL;
    return fcntl(fd, F_SETLK, &lock) == 0 ? 0 : errno;
}

static int childSleeps(char **words) {
    (void)words;
    return 0;
}

static int childBecomesAgent(char **words) {
    /* O_RDWR on a FIFO never blocks and keeps both ends open, so the test may open either end
     * in any order once the parent has replied. */
    int input = open(words[1], O_RDWR | O_CLOEXEC);
    if (input < 0) return errno;
    int output = open(words[2], O_RDWR | O_CLOEXEC);
    if (output < 0) return errno;
    if (dup2(input, STDIN_FILENO) < 0 || dup2(output, STDOUT_FILENO) < 0) return errno;
    close(input);
    close(output);
    return 0;
}

/* ---- commands --------------------------------------------------------------------------------*/

static void *sleepingThread(void *unused) {
    (void)unused;
    pauseForever();
    return NULL;
}

static int startThreads(long long count) {
    /* Signals stay blocked in the new threads, so a signal always interrupts the main thread. */
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    int error = 0;
    for (long long i = 0; i < count && error == 0; i++) {
        pthread_t thread;
        error = pthread_create(&thread, NULL, sleepingThread, NULL);
        if (error == 0) pthread_detach(thread);
    }
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    return error != 0 ? replyErrno(error) : replyOk(NULL);
}

struct OwnTableRequest {
    int fd;
    int lock; /* take the POSIX lock */
    long long start, length;
    int report; /* pipe: the thread writes its tid, or -errno */
};

static void *ownTableThread(void *argument) {
    struct OwnTableRequest request = *(struct OwnTableRequest *)argument;
    int result = (int)syscall(SYS_gettid);
    struct flock lock = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = request.start, .l_len = request.length};
    if (unshare(CLONE_FILES) != 0 || (request.lock && fcntl(request.fd, F_SETLK, &lock) != 0)) result = -errno;
    if (write(request.report, &result, sizeof result) != sizeof result) _exit(124);
    for (;;) pause();
    return NULL;
}

static int startOwnTableThread(char **words, int count) {
    static struct OwnTableRequest request;
    int report[2];
    request.lock = count == 4;
    if ((count != 2 && count != 4) || !parseFd(words[1], &request.fd) ||
        (request.lock && (!parseLong(words[2], &request.start) || !parseLong(words[3], &request.length))))
        return replyUsage("own-table-thread FD [START LEN]");
    if (pipe(report) != 0) return replyErrno(errno);
    request.report = report[1];
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    pthread_t thread;
    int error = pthread_create(&thread, NULL, ownTableThread, &request);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    int result = -error;
    if (error == 0 && read(report[0], &result, sizeof result) != sizeof result) result = -EIO;
    close(report[0]);
    close(report[1]);
    return result < 0 ? replyErrno(-result) : replyOk("%d", result);
}

static int sleepUntilInterrupted(void) {
    struct timespec hour = {3600, 0};
    while (nanosleep(&hour, NULL) == 0) {
    }
    return replyErrno(errno);
}

static int openFile(char **words, int count) {
    int flags;
    if (count != 3) return replyUsage("open PATH r|w|rw");
    if (strcmp(words[2], "r") == 0) flags = O_RDONLY;
    else if (strcmp(words[2], "w") == 0) flags = O_WRONLY | O_CREAT;
    else if (strcmp(words[2], "rw") == 0) flags = O_RDWR | O_CREAT;
    else return replyUsage("open PATH r|w|rw");
    int fd = open(words[1], flags, 0644);
    if (fd < 0) return replyErrno(errno);
    return replyOk("%d", fd);
}

static int setLock(char **words, int count, int noWaitCommand, int waitCommand) {
    int fd, wait;
    struct flock lock;
    if (!parseLockRange(words, count, &fd, &lock, &wait))
        return replyUsage("posix|ofd FD r|w|u START LEN [wait]");
    return replyResult(fcntl(fd, wait ? waitCommand : noWaitCommand, &lock));
}

static int getLock(char **words, int count) {
    int fd, wait;
    struct flock lock;
    if (count != 5 || !parseLockRange(words, count, &fd, &lock, &wait) || lock.l_type == F_UNLCK)
        return replyUsage("getlk FD r|w START LEN");
    if (fcntl(fd, F_GETLK, &lock) != 0) return replyErrno(errno);
    if (lock.l_type == F_UNLCK) return replyOk("u");
    return replyOk("%s %d %lld %lld", lockTypeName(lock.l_type), (int)lock.l_pid,
                   (long long)lock.l_start, (long long)lock.l_len);
}

static int setFlock(char **words, int count) {
    int fd, operation;
    if (count < 3 || count > 4 || !parseFd(words[1], &fd) ||
        (count == 4 && strcmp(words[3], "wait") != 0))
        return replyUsage("flock FD sh|ex|un [wait]");
    if (strcmp(words[2], "sh") == 0) operation = LOCK_SH;
    else if (strcmp(words[2], "ex") == 0) operation = LOCK_EX;
    else if (strcmp(words[2], "un") == 0) operation = LOCK_UN;
    else return replyUsage("flock FD sh|ex|un [wait]");
    if (count == 3) operation |= LOCK_NB;
    return replyResult(flock(fd, operation));
}

static int setOwner(char **words, int count) {
    int fd;
    long long pid;
    if (count < 3 || count > 4 || !parseFd(words[1], &fd) || !parseLong(words[2], &pid))
        return replyUsage("setown FD PID [pid|tid|pgrp]");
    struct f_owner_ex owner = {.type = F_OWNER_PID, .pid = (pid_t)pid};
    if (count == 4) {
        if (strcmp(words[3], "tid") == 0) owner.type = F_OWNER_TID;
        else if (strcmp(words[3], "pgrp") == 0) owner.type = F_OWNER_PGRP;
        else if (strcmp(words[3], "pid") != 0) return replyUsage("setown FD PID [pid|tid|pgrp]");
    }
    return replyResult(fcntl(fd, F_SETOWN_EX, &owner));
}

static int getOwner(int fd) {
    struct f_owner_ex owner;
    if (fcntl(fd, F_GETOWN_EX, &owner) != 0) return replyErrno(errno);
    const char *type = owner.type == F_OWNER_TID ? "tid" : owner.type == F_OWNER_PGRP ? "pgrp" : "pid";
    return replyOk("%s %d", type, (int)owner.pid);
}

static int writeText(int fd, const char *text) {
    ssize_t written = write(fd, text, strlen(text));
    if (written < 0) return replyErrno(errno);
    return replyOk("%zd", written);
}

/* One command; returns 1 when the agent should exit, -1 when this process is a new agent (a
 * "fork" child) that must drop the rest of its parent's input, 2 when the main thread should hand
 * over to a new thread and exit ("leader-exit"). */
static int runCommand(char **words, int count) {
    const char *command = words[0];
    int fd, number;
    long long value;
    short type;
    if (strcmp(command, "open") == 0) openFile(words, count);
    else if (strcmp(command, "posix") == 0) setLock(words, count, F_SETLK, F_SETLKW);
    else if (strcmp(command, "ofd") == 0) setLock(words, count, F_OFD_SETLK, F_OFD_SETLKW);
    else if (strcmp(command, "getlk") == 0) getLock(words, count);
    else if (strcmp(command, "flock") == 0) setFlock(words, count);
    else if (strcmp(command, "setown") == 0) setOwner(words, count);
    else if (strcmp(command, "pid") == 0) replyOk("%d", (int)getpid());
    else if (strcmp(command, "own-table-thread") == 0) startOwnTableThread(words, count);
    else if (strcmp(command, "leader-exit") == 0) {
        replyOk(NULL);
        return 2;
    } else if (strcmp(command, "setpgid") == 0) {
        if (count > 2 || (count == 2 && (!parseLong(words[1], &value) || value <= 0 || value > INT_MAX)))
            return replyUsage("setpgid [PGID]");
        if (setpgid(0, count == 2 ? (pid_t)value : 0) != 0) return replyResult(-1);
        replyOk("%d", (int)getpgrp());
    }
    else if (strcmp(command, "sleep") == 0) sleepUntilInterrupted();
    else if (strcmp(command, "exit") == 0) {
        replyOk(NULL);
        return 1;
    } else if (strcmp(command, "exec") == 0) {
        char *const arguments[] = {"lockagent", NULL};
        replyOk(NULL);
        execv("/proc/self/exe", arguments);
        _exit(127); /* the test sees its output close */
    } else if (strcmp(command, "unlink") == 0) {
        if (count != 2) return replyUsage("unlink PATH");
        replyResult(unlink(words[1]));
    } else if (strcmp(command, "threads") == 0) {
        if (count != 2 || !parseLong(words[1], &value) || value < 0 || value > 1000)
            return replyUsage("threads N");
        startThreads(value);
    } else if (strcmp(command, "sigcount") == 0) {
        if (count != 2 || !parseSignal(words[1], &number)) return replyUsage("sigcount SIG");
        replyOk("%d", (int)signalCounts[number]);
    } else if (strcmp(command, "sigfd") == 0) {
        if (count != 2 || !parseSignal(words[1], &number)) return replyUsage("sigfd SIG");
        replyOk("%d", (int)signalFds[number]);
    } else if (strcmp(command, "spawn-child-posix") == 0) {
        if (count != 5) return replyUsage("spawn-child-posix FD r|w START LEN");
        forkChild(childTakesPosixLock, words);
    } else if (strcmp(command, "spawn-child-sleep") == 0) {
        forkChild(childSleeps, words);
    } else if (strcmp(command, "fork") == 0) {
        if (count != 3) return replyUsage("fork IN_FIFO OUT_FIFO");
        if (forkChild(childBecomesAgent, words)) return -1;
    } else if (count == 2 && parseFd(words[1], &fd)) {
        /* The single-fd commands. */
        if (strcmp(command, "close") == 0) replyResult(close(fd));
        else if (strcmp(command, "cloexec") == 0) replyResult(fcntl(fd, F_SETFD, FD_CLOEXEC));
        else if (strcmp(command, "dup") == 0) {
            int copy = dup(fd);
            if (copy < 0) replyErrno(errno);
            else replyOk("%d", copy);
        } else if (strcmp(command, "getlease") == 0) {
            int lease = fcntl(fd, F_GETLEASE);
            if (lease < 0) replyErrno(errno);
            else replyOk("%s", lockTypeName(lease));
        } else if (strcmp(command, "getown") == 0) getOwner(fd);
        else if (strcmp(command, "getsig") == 0) {
            int signalNumber = fcntl(fd, F_GETSIG);
            if (signalNumber < 0) replyErrno(errno);
            else replyOk("%d", signalNumber);
        } else replyUsage("unknown command");
    } else if (count == 3 && parseFd(words[1], &fd)) {
        /* The fd + argument commands. */
        if (strcmp(command, "lease") == 0) {
            if (!parseLockType(words[2], &type)) return replyUsage("lease FD r|w|u");
            replyResult(fcntl(fd, F_SETLEASE, (int)type));
        } else if (strcmp(command, "setsig") == 0) {
            if (!parseSignal(words[2], &number)) return replyUsage("setsig FD SIG");
            replyResult(fcntl(fd, F_SETSIG, number));
        } else if (strcmp(command, "write") == 0) writeText(fd, words[2]);
        else replyUsage("unknown command");
    } else replyUsage("unknown command or arguments");
    return 0;
}

static int splitWords(char *line, char **words) {
    int count = 0;
    for (char *word = strtok(line, " \t\r"); word != NULL && count < MAX_WORDS;
         word = strtok(NULL, " \t\r"))
        words[count++] = word;
    return count;
}

static void installSignalHandlers(void) {
    struct sigaction counting;
    memset(&counting, 0, sizeof counting);
    counting.sa_sigaction = countSignal; /* no SA_RESTART: see the header */
    counting.sa_flags = SA_SIGINFO;
    sigemptyset(&counting.sa_mask);
    for (int number = 1; number < 65; number++) {
        switch (number) {
        case SIGKILL: case SIGSTOP: case SIGTERM: case SIGINT: case SIGQUIT: case SIGCHLD:
        case SIGCONT: case SIGTSTP: case SIGTTIN: case SIGTTOU: case SIGSEGV: case SIGBUS:
        case SIGILL: case SIGFPE: case SIGABRT: case SIGTRAP: case SIGSYS: case SIGPIPE:
            continue;
        }
        sigaction(number, &counting, NULL); /* glibc refuses its own two RT signals: fine */
    }
    signal(SIGCHLD, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
}

static char lineBuffer[MAX_LINE];
static size_t lineBufferUsed;

/* Reads and runs commands until "exit" or the end of input; then the whole process exits. */
static void *serveCommands(void *unused) {
    (void)unused;
    for (;;) {
        char *newline = memchr(lineBuffer, '\n', lineBufferUsed);
        if (newline == NULL) {
            if (lineBufferUsed == sizeof lineBuffer) {
                replyUsage("line too long");
                lineBufferUsed = 0;
            }
            ssize_t got = read(STDIN_FILENO, lineBuffer + lineBufferUsed, sizeof lineBuffer - lineBufferUsed);
            if (got < 0 && errno == EINTR) continue;
            if (got <= 0) exit(0);
            lineBufferUsed += (size_t)got;
            continue;
        }
        *newline = '\0';
        size_t lineLength = (size_t)(newline - lineBuffer) + 1;
        char *words[MAX_WORDS];
        int count = splitWords(lineBuffer, words);
        int outcome = count == 0 ? replyUsage("empty line") : runCommand(words, count);
        if (outcome == 1) exit(0);
        if (outcome == -1) {
            lineBufferUsed = 0; /* a new agent: its input comes from the FIFO now */
            continue;
        }
        memmove(lineBuffer, lineBuffer + lineLength, lineBufferUsed - lineLength);
        lineBufferUsed -= lineLength;
        if (outcome == 2) {
            /* "leader-exit": a new thread serves from here on; the thread-group leader exits
             * (a zombie while the process lives on, holding every file and lock). */
            pthread_t server;
            if (pthread_create(&server, NULL, serveCommands, NULL) != 0) _exit(125);
            pthread_exit(NULL);
        }
    }
}

int main(void) {
    installSignalHandlers();
    serveCommands(NULL);
    return 0;
}
