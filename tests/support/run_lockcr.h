// Runs the lockcr binary as a separate process, as an operator or a runtime would, and captures
// its exit status, stdout and stderr.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace lockcr::test {

struct CommandResult {
    int status = -1;
    std::string out;
    std::string err;
    bool timedOut = false;  // still running after the bound: killed (status 128 + SIGKILL)
};

// A lockcr call that has not ended after this long hangs: it is killed and the test fails on its
// status, instead of the whole test binary waiting for ctest's TIMEOUT.
constexpr std::chrono::seconds kLockcrBound{60};

inline std::string readWholeFile(const std::string& path) {
    std::ifstream file(path);
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
}

// ARGS after the binary; STDIN_TEXT fed on stdin (empty: /dev/null). Waits at most kLockcrBound.
inline CommandResult runLockcr(const std::vector<std::string>& args, const std::string& stdinText = "") {
    // lockcr-test-PID-: tests/container/sweep.sh removes it if this process is killed.
    std::string nameTemplate = "/tmp/lockcr-test-" + std::to_string(getpid()) + "-run-XXXXXX";
    std::vector<char> directory(nameTemplate.begin(), nameTemplate.end());
    directory.push_back('\0');
    if (!mkdtemp(directory.data())) return {};
    std::string base = directory.data();
    std::string in = base + "/in", out = base + "/out", err = base + "/err";
    std::ofstream(in) << stdinText;
    std::ofstream(out).flush();
    std::fflush(nullptr);  // or the child inherits, and later flushes, doctest's buffered output
    pid_t child = fork();
    if (child == 0) {
        int input = open(in.c_str(), O_RDONLY), output = open(out.c_str(), O_WRONLY | O_TRUNC),
            error = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (input < 0 || output < 0 || error < 0 || dup2(input, 0) < 0 || dup2(output, 1) < 0 || dup2(error, 2) < 0)
            _exit(127);
        std::vector<char*> argv{const_cast<char*>(LOCKCR_BINARY)};
        for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
        argv.push_back(nullptr);
        execv(LOCKCR_BINARY, argv.data());
        _exit(127);
    }
    int status = 0;
    bool timedOut = false;
    auto deadline = std::chrono::steady_clock::now() + kLockcrBound;
    while (waitpid(child, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() >= deadline) {
            timedOut = true;
            kill(child, SIGKILL);
            waitpid(child, &status, 0);
            break;
        }
        timespec pauseTime{0, 2 * 1000 * 1000};
        nanosleep(&pauseTime, nullptr);
    }
    CommandResult result{WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), readWholeFile(out),
                         readWholeFile(err), timedOut};
    unlink(in.c_str());
    unlink(out.c_str());
    unlink(err.c_str());
    rmdir(directory.data());
    return result;
}

// Validates lock images against the JSON Schema with Debian's python3-jsonschema.
inline bool imageMatchesSchema(const std::string& imagePath) {
    std::string command = "/usr/bin/python3 " LOCKCR_SOURCE_DIR "/tests/schema_check.py " LOCKCR_SCHEMA " " +
                          imagePath + " >&2";
    return std::system(command.c_str()) == 0;
}

}  // namespace lockcr::test
