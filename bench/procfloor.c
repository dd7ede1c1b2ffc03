/*
 * procfloor: the /proc work alone that any collector of a container's file locks does, with
 * nothing else: for every fd of the given processes, open + read + close /proc/PID/fdinfo/FD (the
 * only place a flock on a given fd shows) and readlink /proc/PID/fd/FD (its path), spread over
 * THREADS threads as lockcr spreads them. bench/run.sh times it as a whole command beside lockcr:
 * the difference is what lockcr adds; this is the floor no /proc-based tool goes below here.
 *
 * Usage: procfloor THREADS PID...
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct Fd {
    int fdinfoDirectory, fdDirectory;
    char name[32];
};

static struct Fd *fds;
static size_t fdCount, threadCount;
static size_t readBytes; /* summed atomically: the work must not be optimised away */

static void *readShare(void *argument) {
    size_t worker = (size_t)argument, bytes = 0;
    char buffer[65536], link[4096];
    for (size_t i = worker; i < fdCount; i += threadCount) {
        int fd = openat(fds[i].fdinfoDirectory, fds[i].name, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        ssize_t n;
        while ((n = read(fd, buffer, sizeof buffer)) > 0) bytes += (size_t)n;
        close(fd);
        if (readlinkat(fds[i].fdDirectory, fds[i].name, link, sizeof link) > 0) bytes++;
    }
    __atomic_fetch_add(&readBytes, bytes, __ATOMIC_RELAXED);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 3 || (threadCount = strtoul(argv[1], NULL, 10)) == 0 || threadCount > 64) {
        fprintf(stderr, "usage: procfloor THREADS PID...\n");
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
            snprintf(fds[fdCount].name, sizeof fds[fdCount].name, "%.31s", entry->d_name);
            fdCount++;
        }
        closedir(listing);
    }
    pthread_t threads[64];
    for (size_t t = 1; t < threadCount; t++) pthread_create(&threads[t], NULL, readShare, (void *)t);
    readShare((void *)0);
    for (size_t t = 1; t < threadCount; t++) pthread_join(threads[t], NULL);
    printf("%zu fds, %zu bytes\n", fdCount, __atomic_load_n(&readBytes, __ATOMIC_RELAXED));
    return 0;
}
