// A throw-away freezer cgroup for integration tests, v1 (the freezer hierarchy) or v2 (the unified
// hierarchy, cgroup.freeze): a stand-in for a container's cgroup that a test can put agents in,
// freeze and thaw. The destructor thaws it, SIGKILLs whatever is
// still inside, waits until it is empty and removes it, so no test leaves a frozen task behind.
#pragma once

#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace lockcr::test {

class TestCgroup {
public:
    static constexpr const char* freezerRoot = "/sys/fs/cgroup/freezer";
    static constexpr const char* unifiedRoot = "/sys/fs/cgroup/unified";
    enum class Version { v1, v2 };

    // Creates ROOT/lockcr-test-PID-N (the first N not already taken), ROOT the v1 freezer
    // hierarchy or the v2 unified one.
    explicit TestCgroup(Version version = Version::v1) : version_(version) {
        static std::atomic<int> counter{0};
        const char* root = version == Version::v1 ? freezerRoot : unifiedRoot;
        for (int attempt = 0; attempt < 1000; attempt++) {
            std::string candidate = std::string(root) + "/lockcr-test-" + std::to_string(getpid()) + "-" +
                                    std::to_string(counter++);
            if (mkdir(candidate.c_str(), 0755) == 0) {
                path_ = candidate;
                return;
            }
            if (errno != EEXIST) throwErrno("test cgroup: mkdir " + candidate);
        }
        throw std::runtime_error("test cgroup: no free name under " + std::string(root));
    }
    TestCgroup(const TestCgroup&) = delete;
    TestCgroup& operator=(const TestCgroup&) = delete;

    ~TestCgroup() {
        try {
            thaw();
        } catch (...) {
            // Keep going: an undeletable cgroup is better than a frozen, unkillable test.
        }
        for (int attempt = 0; attempt < 1000; attempt++) {
            std::vector<pid_t> remaining = members();
            for (pid_t pid : remaining) kill(pid, SIGKILL);
            if (remaining.empty() && rmdir(path_.c_str()) == 0) return;
            if (remaining.empty() && errno != EBUSY) return;
            sleepMilliseconds(10);
        }
    }

    const std::string& path() const { return path_; }

    // Moves PID (a whole process) into the group; its later children are born in it.
    void add(pid_t pid) { writeControl("cgroup.procs", std::to_string(pid)); }

    // The processes in the group, from cgroup.procs.
    std::vector<pid_t> members() const {
        std::ifstream procs(path_ + "/cgroup.procs");
        std::vector<pid_t> pids;
        pid_t pid;
        while (procs >> pid) pids.push_back(pid);
        return pids;
    }

    // Returns once the kernel reports the group FROZEN (FREEZING while tasks are still running).
    void freeze() { setState("FROZEN"); }
    void thaw() { setState("THAWED"); }

    // FROZEN, FREEZING or THAWED, for v2 too (cgroup.freeze is the setting, cgroup.events the fact).
    std::string state() const {
        if (version_ == Version::v2) {
            bool wanted = readWord("cgroup.freeze") == "1";
            std::ifstream events(path_ + "/cgroup.events");
            std::string key, value;
            bool frozen = false;
            while (events >> key >> value) frozen |= key == "frozen" && value == "1";
            return frozen ? "FROZEN" : wanted ? "FREEZING" : "THAWED";
        }
        return readWord("freezer.state");
    }

private:
    [[noreturn]] static void throwErrno(const std::string& what, int errnoValue = errno) {
        throw std::runtime_error(what + ": " + std::strerror(errnoValue));
    }

    static void sleepMilliseconds(long milliseconds) {
        timespec pauseTime{milliseconds / 1000, (milliseconds % 1000) * 1000000};
        nanosleep(&pauseTime, nullptr);
    }

    void writeControl(const std::string& name, const std::string& value) {
        std::string file = path_ + "/" + name;
        std::ofstream control(file);
        control << value << std::flush;
        if (!control) throwErrno("test cgroup: write \"" + value + "\" to " + file);
    }

    std::string readWord(const std::string& name) const {
        std::ifstream file(path_ + "/" + name);
        std::string value;
        file >> value;
        return value;
    }

    void setState(const std::string& wanted) {
        for (int attempt = 0; attempt < 1000; attempt++) {
            // Writing again while FREEZING retries the freeze of tasks that were busy.
            if (attempt % 10 == 0) {
                if (version_ == Version::v2) writeControl("cgroup.freeze", wanted == "FROZEN" ? "1" : "0");
                else writeControl("freezer.state", wanted);
            }
            if (state() == wanted) return;
            sleepMilliseconds(10);
        }
        throw std::runtime_error("test cgroup: " + path_ + " still " + state() + ", not " + wanted + " after 10 s");
    }

    Version version_;
    std::string path_;
};

}  // namespace lockcr::test
