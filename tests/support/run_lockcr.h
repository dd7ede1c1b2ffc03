// Runs the lockcr binary as a separate process, as an operator or a runtime would, and captures
// its exit status, stdout and stderr.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <algorithm>
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

// How a lockcr process is started: what it reads on stdin, what its environment adds to the test's.
struct LockcrLaunch {
    std::string stdinText;         // empty: nothing on stdin
    std::vector<std::string> env;  // NAME=VALUE ("LOCKCR_FAULT=collect-listed:stop")
};

// A lockcr process running beside the test. With LOCKCR_FAULT=POINT:stop it stops itself at POINT
// (hook/util/fault.h): waitUntilStopped() returns once it sits there, the test changes the world,
// and resume() lets it go on. finish() waits for its end (at most kLockcrBound, then it is killed)
// and returns what it said; the destructor kills and reaps one that was not finished.
class LockcrProcess {
public:
    LockcrProcess(const std::vector<std::string>& args, const LockcrLaunch& launch = {}) {
        // lockcr-test-PID-: tests/container/sweep.sh removes it if this process is killed.
        std::string nameTemplate = "/tmp/lockcr-test-" + std::to_string(getpid()) + "-run-XXXXXX";
        std::vector<char> directory(nameTemplate.begin(), nameTemplate.end());
        directory.push_back('\0');
        if (!mkdtemp(directory.data())) return;
        base_ = directory.data();
        std::ofstream(base_ + "/in") << launch.stdinText;
        std::ofstream(base_ + "/out").flush();
        std::fflush(nullptr);  // or the child inherits, and later flushes, doctest's buffered output
        std::vector<std::string> environment = launch.env;
        child_ = fork();
        if (child_ == 0) {
            int input = open((base_ + "/in").c_str(), O_RDONLY),
                output = open((base_ + "/out").c_str(), O_WRONLY | O_TRUNC),
                error = open((base_ + "/err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
            if (input < 0 || output < 0 || error < 0 || dup2(input, 0) < 0 || dup2(output, 1) < 0 || dup2(error, 2) < 0)
                _exit(127);
            for (std::string& variable : environment) putenv(variable.data());
            std::vector<char*> argv{const_cast<char*>(LOCKCR_BINARY)};
            for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
            argv.push_back(nullptr);
            execv(LOCKCR_BINARY, argv.data());
            _exit(127);
        }
    }
    LockcrProcess(const LockcrProcess&) = delete;
    LockcrProcess& operator=(const LockcrProcess&) = delete;
    ~LockcrProcess() {
        if (child_ > 0 && !reaped_) {
            kill(child_, SIGKILL);
            waitpid(child_, nullptr, 0);
        }
        removeFiles();
    }

    pid_t pid() const { return child_; }

    // True once lockcr has stopped itself (SIGSTOP at its fault point); false if it ended first
    // (finish() then reports how) or is still running after kLockcrBound.
    bool waitUntilStopped() {
        auto deadline = std::chrono::steady_clock::now() + kLockcrBound;
        while (child_ > 0 && !reaped_ && std::chrono::steady_clock::now() < deadline) {
            pid_t got = waitpid(child_, &status_, WNOHANG | WUNTRACED);
            if (got == child_ && WIFSTOPPED(status_)) return true;
            if (got == child_) {
                reaped_ = true;
                return false;
            }
            timespec pauseTime{0, 2 * 1000 * 1000};
            nanosleep(&pauseTime, nullptr);
        }
        return false;
    }

    void resume() { kill(child_, SIGCONT); }

    CommandResult finish() {
        if (child_ <= 0) return {};
        bool timedOut = false;
        auto deadline = std::chrono::steady_clock::now() + kLockcrBound;
        while (!reaped_) {
            pid_t got = waitpid(child_, &status_, WNOHANG);
            if (got == child_) {
                reaped_ = true;
                break;
            }
            if (std::chrono::steady_clock::now() >= deadline) {
                timedOut = true;
                kill(child_, SIGKILL);
                waitpid(child_, &status_, 0);
                reaped_ = true;
                break;
            }
            timespec pauseTime{0, 2 * 1000 * 1000};
            nanosleep(&pauseTime, nullptr);
        }
        CommandResult result{WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_),
                             readWholeFile(base_ + "/out"), readWholeFile(base_ + "/err"), timedOut};
        removeFiles();
        return result;
    }

private:
    void removeFiles() {
        if (base_.empty()) return;
        for (const char* name : {"/in", "/out", "/err"}) unlink((base_ + name).c_str());
        rmdir(base_.c_str());
        base_.clear();
    }

    std::string base_;
    pid_t child_ = -1;
    int status_ = 0;
    bool reaped_ = false;
};

// ARGS after the binary; STDIN_TEXT fed on stdin (empty: /dev/null). Waits at most kLockcrBound.
inline CommandResult runLockcr(const std::vector<std::string>& args, const std::string& stdinText = "") {
    return LockcrProcess(args, {.stdinText = stdinText}).finish();
}

// A failure as the house style has it: exit STATUS, one line on stderr, saying NEEDLE; never hung.
inline void expectOneLineError(const CommandResult& result, int status, const std::string& needle) {
    CHECK_FALSE(result.timedOut);
    CHECK(result.status == status);
    CHECK_MESSAGE(std::count(result.err.begin(), result.err.end(), '\n') == 1, result.err);
    CHECK_MESSAGE(result.err.find(needle) != std::string::npos, result.err);
}

// Validates lock images against the JSON Schema with Debian's python3-jsonschema.
inline bool imageMatchesSchema(const std::string& imagePath) {
    std::string command = "/usr/bin/python3 " LOCKCR_SOURCE_DIR "/tests/schema_check.py " LOCKCR_SCHEMA " " +
                          imagePath + " >&2";
    return std::system(command.c_str()) == 0;
}

}  // namespace lockcr::test
