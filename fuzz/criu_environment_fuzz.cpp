// The CRIU action environment (hook/criu/environment.cpp). The input is NAME=VALUE entries
// separated by NUL bytes, like /proc/PID/environ.
#include <map>
#include <string>

#include "criu/environment.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace lockcr;
    std::map<std::string, std::string> variables;
    std::string_view text = fuzz::textOf(data, size);
    while (!text.empty()) {
        std::string_view entry = text.substr(0, text.find('\0'));
        text.remove_prefix(std::min(text.size(), entry.size() + 1));
        size_t equals = entry.find('=');
        if (equals == std::string_view::npos) continue;
        variables[std::string(entry.substr(0, equals))] = std::string(entry.substr(equals + 1));
    }
    fuzz::expectOnlyLockcrErrors([&] {
        CriuEnvironment environment = parseCriuEnvironment(variables);
        fuzz::require(!environment.actionName.empty(), "CRIU environment: an action");
        fuzz::require(environment.imageDirectory.empty() || environment.imageDirectory.starts_with('/'),
                      "CRIU environment: an absolute image directory");
        fuzz::require(!environment.initPid || (*environment.initPid >= 1 && *environment.initPid <= 4194304),
                      "CRIU environment: a pid in range");
    });
    return 0;
}
