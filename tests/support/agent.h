// A lockagent process (tests/workload/lockagent.c) driven from a doctest case: send a command line,
// read the one reply line. The Agent owns the process: its destructor SIGKILLs and reaps it, so a
// failing test leaves no lock holder behind. See lockagent.c for the command language.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "util/unique_fd.h"

namespace lockcr::test {

class Agent {
public:
    // Starts BINARY (normally LOCKCR_WORKLOAD_DIR "/lockagent") with pipes on its stdin and stdout
    // and only fds 0-2 open; returns once it has answered "pid".
    static Agent spawn(const std::string& binary) {
        int toAgent[2], fromAgent[2];
        if (pipe2(toAgent, O_CLOEXEC) != 0) throwErrno("agent: pipe");
        lockcr::UniqueFd toAgentRead(toAgent[0]), toAgentWrite(toAgent[1]);
        if (pipe2(fromAgent, O_CLOEXEC) != 0) throwErrno("agent: pipe");
        lockcr::UniqueFd fromAgentRead(fromAgent[0]), fromAgentWrite(fromAgent[1]);

        pid_t parent = getpid();
        pid_t pid = ::fork();
        if (pid < 0) throwErrno("agent: fork");
        if (pid == 0) {
            // Only async-signal-safe calls between fork and exec.
            if (dup2(toAgentRead.get(), STDIN_FILENO) < 0 || dup2(fromAgentWrite.get(), STDOUT_FILENO) < 0) _exit(126);
            close_range(3, ~0U, 0);
            prctl(PR_SET_PDEATHSIG, SIGKILL);  // the agent dies with the test
            if (getppid() != parent) _exit(126);
            char* const arguments[] = {const_cast<char*>(binary.c_str()), nullptr};
            execv(binary.c_str(), arguments);
            _exit(127);
        }
        // Only the agent may hold these ends, or its death would not show as EOF here.
        toAgentRead.reset();
        fromAgentWrite.reset();
        Agent agent(pid, std::move(toAgentWrite), std::move(fromAgentRead), true);
        agent.confirmPid("agent " + binary);
        return agent;
    }

    Agent(Agent&& other) noexcept
            : pid_(std::exchange(other.pid_, 0)),
              toAgent_(std::move(other.toAgent_)),
              fromAgent_(std::move(other.fromAgent_)),
              buffered_(std::move(other.buffered_)),
              isOurChild_(other.isOurChild_) {}
    Agent& operator=(Agent&& other) noexcept {
        if (this != &other) {
            stop();
            pid_ = std::exchange(other.pid_, 0);
            toAgent_ = std::move(other.toAgent_);
            fromAgent_ = std::move(other.fromAgent_);
            buffered_ = std::move(other.buffered_);
            isOurChild_ = other.isOurChild_;
        }
        return *this;
    }
    Agent(const Agent&) = delete;
    Agent& operator=(const Agent&) = delete;
    ~Agent() { stop(); }

    pid_t pid() const { return pid_; }

    // Sends COMMAND and returns its reply line (without the newline). Throws on timeout or EOF.
    std::string call(const std::string& command, int timeoutMs = 10000) {
        send(command);
        std::optional<std::string> line = reply(timeoutMs);
        if (!line)
            throw std::runtime_error(describe() + ": no reply to \"" + command + "\" within " +
                                     std::to_string(timeoutMs) + " ms");
        return *line;
    }

    // call() for commands that answer "ok NUMBER" (open, dup, pid, spawn-...): the number, or
    // throws with the reply.
    long long callForNumber(const std::string& command, int timeoutMs = 10000) {
        std::string line = call(command, timeoutMs);
        char* end = nullptr;
        long long value = line.rfind("ok ", 0) == 0 ? std::strtoll(line.c_str() + 3, &end, 10) : 0;
        if (end == nullptr || end == line.c_str() + 3 || *end != '\0')
            throw std::runtime_error(describe() + ": \"" + command + "\" answered \"" + line + "\"");
        return value;
    }

    // Sends one command line without waiting (for commands that block: "posix ... wait", "sleep").
    void send(const std::string& command) {
        std::string line = command + "\n";
        // A dead agent must fail the test, not kill it with SIGPIPE: block it while writing and
        // swallow the one this write may raise.
        sigset_t pipeOnly, previous;
        sigemptyset(&pipeOnly);
        sigaddset(&pipeOnly, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipeOnly, &previous);
        size_t done = 0;
        int writeErrno = 0;
        while (done < line.size()) {
            ssize_t written = write(toAgent_.get(), line.data() + done, line.size() - done);
            if (written < 0 && errno == EINTR) continue;
            if (written < 0) {
                writeErrno = errno;
                break;
            }
            done += static_cast<size_t>(written);
        }
        if (writeErrno == EPIPE) {
            timespec noWait{0, 0};
            sigtimedwait(&pipeOnly, nullptr, &noWait);
        }
        pthread_sigmask(SIG_SETMASK, &previous, nullptr);
        if (writeErrno != 0)
            throw std::runtime_error(describe() + ": send \"" + command + "\": " + std::strerror(writeErrno));
    }

    // The next reply line, or nothing if none arrives within timeoutMs. Throws on EOF.
    std::optional<std::string> reply(int timeoutMs) {
        timespec deadline = deadlineAfter(timeoutMs);
        for (;;) {
            size_t newline = buffered_.find('\n');
            if (newline != std::string::npos) {
                std::string line = buffered_.substr(0, newline);
                buffered_.erase(0, newline + 1);
                return line;
            }
            pollfd readable{fromAgent_.get(), POLLIN, 0};
            int ready = poll(&readable, 1, millisecondsUntil(deadline));
            if (ready < 0 && errno == EINTR) continue;
            if (ready < 0) throwErrno(describe() + ": poll");
            if (ready == 0) return std::nullopt;
            char chunk[4096];
            ssize_t got = read(fromAgent_.get(), chunk, sizeof chunk);
            if (got < 0 && errno == EINTR) continue;
            if (got < 0) throwErrno(describe() + ": read");
            if (got == 0) throw std::runtime_error(describe() + ": closed its output (exited?)");
            buffered_.append(chunk, static_cast<size_t>(got));
        }
    }

    // Kills and reaps the agent now (the destructor does it otherwise).
    void stop() noexcept {
        if (pid_ <= 0) return;
        kill(pid_, SIGKILL);
        if (isOurChild_) {
            while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {}
        } else {
            // A forked agent is its parent agent's child (auto-reaped there): wait until it is gone.
            for (int attempt = 0; attempt < 500 && kill(pid_, 0) == 0 && !isZombie(pid_); attempt++) {
                timespec pauseTime{0, 10 * 1000 * 1000};
                nanosleep(&pauseTime, nullptr);
            }
        }
        pid_ = 0;
        toAgent_.reset();
        fromAgent_.reset();
    }

    // A new agent in a child of this one ("fork" command): it shares every open file description
    // this agent has, under the same fd numbers; it dies with this agent.
    Agent forkAgent() {
        // lockcr-test-PID-: tests/container/sweep.sh removes it if this process is killed.
        std::string directory = "/tmp/lockcr-test-" + std::to_string(getpid()) + "-agent-XXXXXX";
        if (mkdtemp(directory.data()) == nullptr) throwErrno("agent: mkdtemp");
        std::string input = directory + "/in", output = directory + "/out";
        auto removeAll = [&] {
            unlink(input.c_str());
            unlink(output.c_str());
            rmdir(directory.c_str());
        };
        if (mkfifo(input.c_str(), 0600) != 0 || mkfifo(output.c_str(), 0600) != 0) {
            int savedErrno = errno;
            removeAll();
            throwErrno("agent: mkfifo in " + directory, savedErrno);
        }
        long long childPid;
        try {
            childPid = callForNumber("fork " + input + " " + output);
        } catch (...) {
            removeAll();
            throw;
        }
        // The child holds both FIFOs open read-write, so neither open blocks.
        lockcr::UniqueFd toChild(open(input.c_str(), O_WRONLY | O_CLOEXEC));
        lockcr::UniqueFd fromChild(open(output.c_str(), O_RDONLY | O_CLOEXEC));
        int savedErrno = errno;
        removeAll();
        if (!toChild || !fromChild) {
            kill(static_cast<pid_t>(childPid), SIGKILL);
            throwErrno("agent: open FIFOs of forked agent", savedErrno);
        }
        Agent child(static_cast<pid_t>(childPid), std::move(toChild), std::move(fromChild), false);
        child.confirmPid("forked agent");
        return child;
    }

private:
    Agent(pid_t pid, lockcr::UniqueFd toAgent, lockcr::UniqueFd fromAgent, bool isOurChild)
            : pid_(pid), toAgent_(std::move(toAgent)), fromAgent_(std::move(fromAgent)), isOurChild_(isOurChild) {}

    [[noreturn]] static void throwErrno(const std::string& what, int errnoValue = errno) {
        throw std::runtime_error(what + ": " + std::strerror(errnoValue));
    }

    std::string describe() const { return "agent pid " + std::to_string(pid_); }

    void confirmPid(const std::string& what) {
        std::string expected = "ok " + std::to_string(pid_);
        std::string line = call("pid");
        if (line != expected) throw std::runtime_error(what + ": answered \"" + line + "\" to pid, not " + expected);
    }

    static bool isZombie(pid_t pid) {
        std::string path = "/proc/" + std::to_string(pid) + "/stat";
        lockcr::UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
        char text[512];
        ssize_t got = fd ? read(fd.get(), text, sizeof text - 1) : -1;
        if (got <= 0) return true;
        text[got] = '\0';
        const char* afterName = std::strrchr(text, ')');
        return afterName != nullptr && afterName[1] == ' ' && afterName[2] == 'Z';
    }

    static timespec deadlineAfter(int milliseconds) {
        timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long long nanoseconds = now.tv_nsec + static_cast<long long>(milliseconds % 1000) * 1000000;
        now.tv_sec += milliseconds / 1000 + nanoseconds / 1000000000;
        now.tv_nsec = nanoseconds % 1000000000;
        return now;
    }

    static int millisecondsUntil(const timespec& deadline) {
        timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long long remaining = (deadline.tv_sec - now.tv_sec) * 1000LL + (deadline.tv_nsec - now.tv_nsec) / 1000000;
        return remaining < 0 ? 0 : static_cast<int>(remaining);
    }

    pid_t pid_ = 0;
    lockcr::UniqueFd toAgent_;
    lockcr::UniqueFd fromAgent_;
    std::string buffered_;
    bool isOurChild_ = true;
};

}  // namespace lockcr::test
