#include "verify/verify.h"

#include <algorithm>
#include <set>

#include "util/error.h"

namespace lockcr {

namespace {

std::string fileName(const FileIdentity& file) {
    if (!file.path.empty()) return file.path;
    return std::to_string(file.device.major) + ":" + std::to_string(file.device.minor) + ":" + std::to_string(file.inode);
}

const Process* liveProcess(const LockImage& live, pid_t hostPid) {
    for (const Process& process : live.processes)
        if (process.hostPid == hostPid) return &process;
    return nullptr;
}

std::vector<Lock> posixLocksOn(const Process& process, const std::string& file) {
    std::vector<Lock> locks;
    for (const ProcessFd& fd : process.fds)
        if (fileName(fd.file) == file) locks.insert(locks.end(), fd.posixLocks.begin(), fd.posixLocks.end());
    return locks;
}

std::string processName(const Process& process) {
    return "pid " + std::to_string(process.containerPid) + " (" + process.command + ")";
}

// Holders as host pids, so the expected and the live description can be compared.
std::set<std::pair<pid_t, int>> hostHolders(const OpenFileDescription& description, const LockImage& image,
                                            const PidMapping* pids) {
    std::set<std::pair<pid_t, int>> holders;
    for (const Holder& holder : description.holders) {
        pid_t host = 0;
        if (pids) host = pids->hostPid(holder.containerPid);
        else
            for (const Process& process : image.processes)
                if (process.containerPid == holder.containerPid) host = process.hostPid;
        holders.insert({host, holder.fd});
    }
    return holders;
}

class Comparison {
public:
    Comparison(const LockImage& expected, const LockImage& live, const PidMapping& pids)
        : expected_(expected), live_(live), pids_(pids) {}

    LockDifferences run() {
        comparePosixLocks();
        compareDescriptions();
        compareWaiters();
        return std::move(differences_);
    }

private:
    void comparePosixLocks() {
        std::set<pid_t> expectedHosts;
        for (const Process& process : expected_.processes) {
            pid_t host = pids_.hostPid(process.containerPid);
            expectedHosts.insert(host);
            const Process* now = host ? liveProcess(live_, host) : nullptr;
            bool holdsAnything = false;
            for (const ProcessFd& fd : process.fds) holdsAnything |= !fd.posixLocks.empty() || fd.descriptionId >= 0;
            if (!now) {
                if (holdsAnything) problem(processName(process) + ": not running in the container");
                continue;
            }
            std::set<std::string> files;
            for (const ProcessFd& fd : process.fds) files.insert(fileName(fd.file));
            for (const ProcessFd& fd : now->fds) files.insert(fileName(fd.file));
            for (const std::string& file : files) compareFile(process, *now, file);
        }
        for (const Process& now : live_.processes)
            if (!expectedHosts.contains(now.hostPid))
                for (const ProcessFd& fd : now.fds)
                    for (const Lock& lock : fd.posixLocks)
                        problem(processName(now) + " fd " + std::to_string(fd.fd) + " " + fileName(fd.file) + ": " +
                                describeLock(lock) + " held, not in the image");
    }

    void compareFile(const Process& process, const Process& now, const std::string& file) {
        std::vector<Lock> want = posixLocksOn(process, file);
        std::vector<Lock> have = posixLocksOn(now, file);
        for (const ProcessFd& fd : process.fds) {
            if (fileName(fd.file) != file) continue;
            for (const Lock& lock : fd.posixLocks) {
                auto it = std::find(have.begin(), have.end(), lock);
                if (it != have.end()) have.erase(it);
                else differences_.missingPosix.push_back({&process, &fd, lock});
            }
        }
        for (const Lock& lock : have)
            problem(processName(process) + " " + file + ": " + describeLock(lock) + " held, not in the image");
    }

    void compareDescriptions() {
        std::vector<bool> matched(live_.descriptions.size(), false);
        for (const OpenFileDescription& description : expected_.descriptions) {
            auto want = hostHolders(description, expected_, &pids_);
            const OpenFileDescription* found = nullptr;
            for (size_t i = 0; i < live_.descriptions.size() && !found; ++i) {
                auto have = hostHolders(live_.descriptions[i], live_, nullptr);
                if (std::any_of(want.begin(), want.end(), [&](const auto& h) { return have.contains(h); })) {
                    found = &live_.descriptions[i];
                    matched[i] = true;
                    if (have != want)
                        problem("description of " + fileName(description.file) + ": shared by " + holderText(want) +
                                " in the image, by " + holderText(have) + " now");
                }
            }
            std::vector<Lock> have = found ? found->locks : std::vector<Lock>{};
            for (const Lock& lock : description.locks) {
                auto it = std::find(have.begin(), have.end(), lock);
                if (it != have.end()) have.erase(it);
                else differences_.missingDescription.push_back({&description, lock});
            }
            for (const Lock& lock : have)
                problem("description of " + fileName(description.file) + ": " + describeLock(lock) + " held, not in the image");
        }
        for (size_t i = 0; i < live_.descriptions.size(); ++i)
            if (!matched[i])
                for (const Lock& lock : live_.descriptions[i].locks)
                    problem("description of " + fileName(live_.descriptions[i].file) + " shared by " +
                            holderText(hostHolders(live_.descriptions[i], live_, nullptr)) + ": " + describeLock(lock) +
                            " held, not in the image");
    }

    void compareWaiters() {
        for (const Waiter& waiter : expected_.waiters) {
            pid_t host = pids_.hostPid(waiter.containerPid);
            bool found = std::any_of(live_.waiters.begin(), live_.waiters.end(), [&](const Waiter& now) {
                return now.hostPid == host && now.requested == waiter.requested && now.inode == waiter.inode;
            });
            if (!found && !std::any_of(live_.waiters.begin(), live_.waiters.end(), [&](const Waiter& now) {
                    return now.hostPid == host && now.requested == waiter.requested && now.path == waiter.path;
                }))
                problem("waiter pid " + std::to_string(waiter.containerPid) + " " + waiter.path + ": " +
                        describeLock(waiter.requested) + " no longer waiting");
        }
    }

    static std::string holderText(const std::set<std::pair<pid_t, int>>& holders) {
        std::string text;
        for (const auto& [pid, fd] : holders) text += (text.empty() ? "" : ",") + std::to_string(pid) + ":" + std::to_string(fd);
        return "{" + text + "} (host pid:fd)";
    }

    void problem(std::string line) { differences_.problems.push_back(std::move(line)); }

    const LockImage& expected_;
    const LockImage& live_;
    const PidMapping& pids_;
    LockDifferences differences_;
};

}  // namespace

pid_t PidMapping::hostPid(pid_t containerPid) const {
    auto it = containerToHost.find(containerPid);
    return it == containerToHost.end() ? 0 : it->second;
}

PidMapping mapImagePids(const LockImage& image, const Container& container, const std::map<pid_t, pid_t>& explicitMap) {
    PidMapping mapping;
    for (const Process& process : image.processes) {
        pid_t host = 0;
        if (!explicitMap.empty()) {
            auto it = explicitMap.find(process.containerPid);
            if (it != explicitMap.end()) host = it->second;
        } else if (const ContainerTask* task = container.taskByContainerPid(process.containerPid)) {
            host = task->hostPid;
        }
        if (host) mapping.containerToHost[process.containerPid] = host;
    }
    return mapping;
}

std::string describeLock(const Lock& lock) {
    std::string kind = lock.kind == LockKind::ofd ? "OFD" : nameOf(lock.kind);
    std::transform(kind.begin(), kind.end(), kind.begin(), [](unsigned char c) { return std::toupper(c); });
    std::string type = nameOf(lock.type);
    std::transform(type.begin(), type.end(), type.begin(), [](unsigned char c) { return std::toupper(c); });
    std::string text = kind + " " + type;
    if (lock.kind == LockKind::lease && lock.leaseState != LeaseState::active) text += std::string(" (") + nameOf(lock.leaseState) + ")";
    if (lock.kind == LockKind::posix || lock.kind == LockKind::ofd)
        text += " [" + std::to_string(lock.range.start) + "," + (lock.range.end ? std::to_string(*lock.range.end) : "EOF") + "]";
    return text;
}

std::vector<std::string> LockDifferences::lines() const {
    std::vector<std::string> out;
    for (const MissingPosixLock& missing : missingPosix)
        out.push_back("pid " + std::to_string(missing.process->containerPid) + " (" + missing.process->command + ") fd " +
                      std::to_string(missing.fd->fd) + " " + fileName(missing.fd->file) + ": " + describeLock(missing.lock) + " missing");
    for (const MissingDescriptionLock& missing : missingDescription) {
        const Holder& holder = missing.description->holders.front();
        out.push_back("pid " + std::to_string(holder.containerPid) + " fd " + std::to_string(holder.fd) + " " +
                      fileName(missing.description->file) + ": " + describeLock(missing.lock) + " missing");
    }
    out.insert(out.end(), problems.begin(), problems.end());
    return out;
}

LockDifferences compareLockTables(const LockImage& expected, const LockImage& live, const PidMapping& pids) {
    return Comparison(expected, live, pids).run();
}

}  // namespace lockcr
