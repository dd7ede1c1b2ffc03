#include "criu/environment.h"

#include <sys/stat.h>

#include <cstdlib>

#include "util/error.h"
#include "util/sys.h"
#include "util/text.h"

namespace lockcr {

namespace {

CriuAction actionNamed(const std::string& name) {
    static const std::map<std::string, CriuAction> actions = {
        {"pre-dump", CriuAction::preDump},         {"post-dump", CriuAction::postDump},
        {"pre-restore", CriuAction::preRestore},   {"setup-namespaces", CriuAction::setupNamespaces},
        {"post-restore", CriuAction::postRestore}, {"pre-resume", CriuAction::preResume},
        {"post-resume", CriuAction::postResume},
    };
    auto found = actions.find(name);
    return found == actions.end() ? CriuAction::other : found->second;
}

}  // namespace

CriuEnvironment parseCriuEnvironment(const std::map<std::string, std::string>& variables) {
    CriuEnvironment environment;
    auto action = variables.find("CRTOOLS_SCRIPT_ACTION");
    if (action == variables.end() || action->second.empty())
        throwBadInput("CRIU action: CRTOOLS_SCRIPT_ACTION is not set");
    environment.actionName = action->second;
    environment.action = actionNamed(action->second);
    if (auto directory = variables.find("CRTOOLS_IMAGE_DIR");
        directory != variables.end() && !directory->second.empty()) {
        if (!directory->second.starts_with('/'))
            throwBadInput("CRIU action " + environment.actionName + ": CRTOOLS_IMAGE_DIR " +
                          quotedForMessage(directory->second) + " is not an absolute path");
        environment.imageDirectory = directory->second;
    }
    if (auto pid = variables.find("CRTOOLS_INIT_PID"); pid != variables.end() && !pid->second.empty()) {
        auto number = parseUnsignedNumber(pid->second);
        if (!number || *number == 0 || *number > 4194304)
            throwBadInput("CRIU action " + environment.actionName + ": CRTOOLS_INIT_PID " +
                          quotedForMessage(pid->second) + " is not a pid");
        environment.initPid = static_cast<pid_t>(*number);
    }
    return environment;
}

CriuEnvironment criuEnvironmentOfThisProcess() {
    std::map<std::string, std::string> variables;
    for (const char* name : {"CRTOOLS_SCRIPT_ACTION", "CRTOOLS_IMAGE_DIR", "CRTOOLS_INIT_PID"})
        if (const char* value = std::getenv(name)) variables[name] = value;
    CriuEnvironment environment = parseCriuEnvironment(variables);
    // CRIU names its image directory by its own fd (/proc/CRIU/fd/N); messages and files are better
    // named by the directory itself, which an operator knows, when it is the same directory.
    std::string resolved;
    int error = 0;
    struct stat viaFd {
    }, viaPath{};
    if (environment.imageDirectory.starts_with("/proc/") &&
        sys::tryReadLinkAt(AT_FDCWD, environment.imageDirectory, resolved, error) && resolved.starts_with('/') &&
        sys::tryStatAt(AT_FDCWD, environment.imageDirectory, viaFd, error) &&
        sys::tryStatAt(AT_FDCWD, resolved, viaPath, error) && viaFd.st_dev == viaPath.st_dev &&
        viaFd.st_ino == viaPath.st_ino && S_ISDIR(viaPath.st_mode))
        environment.imageDirectory = resolved;
    return environment;
}

}  // namespace lockcr
