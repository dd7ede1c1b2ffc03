#include "util/log.h"

#include <fcntl.h>
#include <syslog.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>

#include "util/unique_fd.h"

namespace lockcr {

namespace {

LogTargets targets;

std::string timestamp() {
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    tm utc{};
    gmtime_r(&now.tv_sec, &utc);
    char text[40];
    strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
    return text;
}

void emit(int priority, const char* label, const std::string& line) {
    if (priority == LOG_INFO && !targets.verbose) return;
    std::string text = std::string("lockcr: ") + (*label ? std::string(label) + ": " : "") + line + "\n";
    if (targets.standardError) (void)!::write(STDERR_FILENO, text.data(), text.size());
    if (!targets.file.empty()) {
        UniqueFd fd(::open(targets.file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
        std::string stamped = timestamp() + " [" + std::to_string(::getpid()) + "] " + text;
        if (fd) (void)!::write(fd.get(), stamped.data(), stamped.size());
    }
    if (targets.syslog) ::syslog(LOG_DAEMON | priority, "%s", line.c_str());
}

}  // namespace

void configureLog(const LogTargets& newTargets) {
    targets = newTargets;
    if (targets.syslog) ::openlog("lockcr", LOG_PID, LOG_DAEMON);
}

void logError(const std::string& line) { emit(LOG_ERR, "", line); }
void logWarning(const std::string& line) { emit(LOG_WARNING, "warning", line); }
void logInfo(const std::string& line) { emit(LOG_INFO, "", line); }
void logNotice(const std::string& line) { emit(LOG_NOTICE, "", line); }

void PhaseClock::lap(const char* stage) {
    auto now = std::chrono::steady_clock::now();
    if (targets.verbose)
        logInfo(prefix_ + ": " + stage + " (" +
                std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(now - last_).count()) + " us)");
    last_ = now;
}

}  // namespace lockcr
