/*
 * procfloor: the /proc work alone that any collector of a container's file locks does, with
 * nothing else: for every fd of the given processes, open + read + close /proc/PID/fdinfo/FD (the
 * only place a flock on a given fd shows) and readlink /proc/PID/fd/FD (its path), spread over
 * THREADS threads as lockcr spreads them. bench/run.sh times it as a whole command beside lockcr:
 * the difference is what lockcr adds; this is the floor no /proc-based tool goes below here.
 *
 * With --twice, it makes the two looks of a replay instead: the first keeps each fdinfo file open,
 * the second re-reads every kept file with pread (replay's final verify), after growing its fd
 * table once as lockcr does.
 *
 * Usage: procfloor [--twice] THREADS PID...
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct Fd {
    int fdinfoDirectory, fdDirectory;
    char name[32];
    int kept; /* --twice: the fdinfo file, left open by the first look */
};

static struct Fd *fds;
static size_t fdCount, threadCount;
static int twice;
static size_t readBytes; /* summed atomically: the work must not be optimised away */

static void *readShare(void *argument) {
    size_t worker = (size_t)argument, bytes = 0;
    char buffer[65536], link[4096];
    for (size_t i = worker; i < fdCount; i += threadCount) {
        int fd = openat(fds[i].fdinfoDirectory, fds[i].name, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        ssize_t n;
        while ((n = read(fd, buffer, sizeof buffer)) > 0) bytes += (size_t)n;
        if (twice) fds[i].kept = fd;
        else close(fd);
        if (readlinkat(fds[i].fdDirectory, fds[i].name, link, sizeof link) > 0) bytes++;
    }
    __atomic_fetch_add(&readBytes, bytes, __ATOMIC_RELAXED);
    return NULL;
}

static void *rereadShare(void *argument) {
    size_t worker = (size_t)argument, bytes = 0;
    char buffer[65536];
    for (size_t i = worker; i < fdCount; i += threadCount) {
        if (fds[i].kept < 0) continue;
        ssize_t n = pread(fds[i].kept, buffer, sizeof buffer, 0);
        if (n > 0) bytes += (size_t)n;
        close(fds[i].kept);
    }
    __atomic_fetch_add(&readBytes, bytes, __ATOMIC_RELAXED);
    return NULL;
}

static void runOnThreads(void *(*share)(void *)) {
    pthread_t threads[64];
    for (size_t t = 1; t < threadCount; t++) pthread_create(&threads[t], NULL, share, (void *)t);
    share((void *)0);
    for (size_t t = 1; t < threadCount; t++) pthread_join(threads[t], NULL);
}

int main(int argc, char **argv) {
    twice = argc > 1 && strcmp(argv[1], "--twice") == 0;
    argc -= twice;
    argv += twice;
    if (argc < 3 || (threadCount = strtoul(argv[1], NULL, 10)) == 0 || threadCount > 64) {
        fprintf(stderr, "usage: procfloor [--twice] THREADS PID...\n");
        return 2;
    }
    size_t capacity = 1024;
    fds = malloc(capacity * sizeof *fds);
    for (int a = 2; a < argc; a++) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%s/fdinfo", argv[a]);
        int fdinfoDirectory = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        snprintf(path, sizeof path, "/proc/%s/fd", argv[a]);
        int fdDirectory = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *listing = fdinfoDirectory < 0 || fdDirectory < 0 ? NULL : fdopendir(dup(fdinfoDirectory));
        if (!listing) {
            fprintf(stderr, "procfloor: cannot read the fds of pid %s\n", argv[a]);
            return 1;
        }
        for (struct dirent *entry; (entry = readdir(listing));) {
            if (entry->d_name[0] == '.') continue;
            if (fdCount == capacity) fds = realloc(fds, (capacity *= 2) * sizeof *fds);
            fds[fdCount].fdinfoDirectory = fdinfoDirectory;
            fds[fdCount].fdDirectory = fdDirectory;
            fds[fdCount].kept = -1;
            snprintf(fds[fdCount].name, sizeof fds[fdCount].name, "%.31s", entry->d_name);
            fdCount++;
        }
        closedir(listing);
    }
    if (twice && fdCount > 0) {
        struct rlimit files;
        if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
            files.rlim_cur = files.rlim_max;
            setrlimit(RLIMIT_NOFILE, &files);
        }
        int probe = fcntl(fds[0].fdinfoDirectory, F_DUPFD_CLOEXEC, (int)(fdCount + 256));
        if (probe < 0) {
            fprintf(stderr, "procfloor: cannot keep %zu files open\n", fdCount);
            return 1;
        }
        close(probe);
    }
    runOnThreads(readShare);
    if (twice) runOnThreads(rereadShare);
    printf("%zu fds, %zu bytes\n", fdCount, __atomic_load_n(&readBytes, __ATOMIC_RELAXED));
    return 0;
}
