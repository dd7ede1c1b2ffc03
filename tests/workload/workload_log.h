/*
 * Shared by the container workloads (lockholder.c, zdtmload.c): one line appended to a file of
 * the data directory, opened and closed each time so that a line is on disk the moment it is
 * written (the tests read these files from the host while the workload runs, or after CRIU
 * restored it). Never fails loudly: there is nothing left to report a failure to.
 */
#pragma once

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

static void appendLineIn(const char *directory, const char *name, const char *format, va_list arguments) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", directory, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return;
    char line[1024];
    int length = vsnprintf(line, sizeof line - 1, format, arguments);
    if (length < 0) length = 0;
    if (length > (int)sizeof line - 2) length = sizeof line - 2;
    line[length++] = '\n';
    if (write(fd, line, length) < 0) { /* nothing left to report it to */ }
    close(fd);
}
