// Where diagnostics go. The CLI prints one-line errors on stderr; in hook and CRIU action-script
// mode the runtime may drop stderr, so the same lines also go to a log file and to syslog.
#pragma once

#include <chrono>
#include <string>

namespace lockcr {

struct LogTargets {
    bool standardError = true;
    std::string file;      // appended to, created 0600; empty = none
    bool syslog = false;   // LOG_DAEMON, ident "lockcr"
    bool verbose = false;  // logInfo lines too
};

void configureLog(const LogTargets& targets);
void logError(const std::string& line);
void logWarning(const std::string& line);
void logInfo(const std::string& line);
// What an action did, always written (not only with -v): one line per action for the operator.
void logNotice(const std::string& line);

// With -v, how long each stage of a command took: "PREFIX: STAGE (N us)", from the previous lap.
class PhaseClock {
public:
    explicit PhaseClock(std::string prefix) : prefix_(std::move(prefix)) {}
    void lap(const char* stage);

private:
    std::string prefix_;
    std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

}  // namespace lockcr
