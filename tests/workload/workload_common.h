/*
 * Shared by the container workloads (lockholder.c, zdtmload.c): their log lines, their stdio and
 * their ready marker, all in the data directory the tests read from the host.
 */
#pragma once

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

/* One line appended to a file of the data directory, opened and closed each time so that a line
 * is on disk the moment it is written (the tests read these files while the workload runs, or
 * after CRIU restored it). Never fails loudly: there is nothing left to report a failure to. */
static void appendLineIn(const char* directory, const char* name, const char* format, va_list arguments) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", directory, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return;
    char line[1024];
    int length = vsnprintf(line, sizeof line - 1, format, arguments);
    if (length < 0) length = 0;
    if (length > (int)sizeof line - 2) length = sizeof line - 2;
    line[length++] = '\n';
    if (write(fd, line, length) < 0) { /* nothing left to report it to */
    }
    close(fd);
}

/* Stdio on /dev/null inside the container: CRIU cannot dump a host file given as stdio. */
static void reopenStandardStreams(void) {
    int null = open("/dev/null", O_RDWR);
    if (null < 0) _exit(1);
    for (int fd = 0; fd <= 2; fd++) {
        if (null != fd && dup2(null, fd) < 0) _exit(1);
    }
    if (null > 2) close(null);
}

/* DIRECTORY/ready appears at once (written aside, then renamed). 0, or -1 with errno and the
 * path that failed in FAILED (at least 4096 bytes). */
static int markReadyIn(const char* directory, char* failed) {
    char path[4096], temporary[4096];
    snprintf(path, sizeof path, "%s/ready", directory);
    snprintf(temporary, sizeof temporary, "%s/.ready.tmp", directory);
    int fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(failed, 4096, "create %.4000s", temporary);
        return -1;
    }
    close(fd);
    if (rename(temporary, path) != 0) {
        snprintf(failed, 4096, "rename %.4000s", path);
        return -1;
    }
    return 0;
}
