// Where diagnostics go. The CLI prints one-line errors on stderr; in hook and CRIU action-script
// mode the runtime may drop stderr, so the same lines also go to a log file and to syslog.
#pragma once

#include <string>

namespace lockcr {

struct LogTargets {
    bool standardError = true;
    std::string file;     // appended to, created 0600; empty = none
    bool syslog = false;  // LOG_DAEMON, ident "lockcr"
    bool verbose = false; // logInfo lines too
};

void configureLog(const LogTargets& targets);
void logError(const std::string& line);
void logWarning(const std::string& line);
void logInfo(const std::string& line);

}  // namespace lockcr
