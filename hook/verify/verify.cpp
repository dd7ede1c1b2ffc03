#include "verify/verify.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "image/conflict_rules.h"
#include "util/error.h"

namespace lockcr {

namespace {

using HostHolders = std::set<std::pair<pid_t, int>>;

// Lock multisets are compared in sorted order: O(n log n) per file, not O(n^2).
bool lockOrder(const Lock& a, const Lock& b) {
    auto key = [](const Lock& lock) {
        return std::make_tuple(lock.kind, lock.type, lock.leaseState, lock.range.start,
                               lock.range.end.value_or(UINT64_MAX));
    };
    return key(a) < key(b);
}

std::string processName(const Process& process) {
    return "pid " + std::to_string(process.containerPid) + " (" + process.command + ")";
}

struct PosixEntry {
    const ProcessFd* fd;
    Lock lock;
};

// One process's POSIX locks by file, each list sorted.
std::map<std::string, std::vector<PosixEntry>> posixLocksByFile(const Process& process) {
    std::map<std::string, std::vector<PosixEntry>> byFile;
    for (const ProcessFd& fd : process.fds) {
        if (fd.posixLocks.empty()) continue;
        auto& entries = byFile[nameOf(fd.file)];
        for (const Lock& lock : fd.posixLocks) entries.push_back({&fd, lock});
    }
    for (auto& [file, entries] : byFile)
        std::sort(entries.begin(), entries.end(),
                  [](const auto& a, const auto& b) { return lockOrder(a.lock, b.lock); });
    return byFile;
}

std::string holderText(const HostHolders& holders) {
    std::string text;
    for (const auto& [pid, fd] : holders)
        text += (text.empty() ? "" : ",") + std::to_string(pid) + ":" + std::to_string(fd);
    return "{" + text + "} (host pid:fd)";
}

class Comparison {
public:
    Comparison(const LockImage& expected, const LockImage& live, const PidMapping& pids)
            : expected_(expected), live_(live), pids_(pids) {
        for (const Process& process : live_.processes) {
            liveByHost_[process.hostPid] = &process;
            liveHostOf_[process.containerPid] = process.hostPid;
        }
        for (size_t i = 0; i < live_.descriptions.size(); ++i) {
            liveHolders_.push_back(holdersOf(live_.descriptions[i], [&](pid_t pid) {
                auto it = liveHostOf_.find(pid);
                return it == liveHostOf_.end() ? 0 : it->second;
            }));
            for (const auto& holder : liveHolders_.back()) liveDescriptionOf_[holder] = i;
        }
    }

    LockDifferences run() {
        comparePosixLocks();
        compareDescriptions();
        compareWaiters();
        return std::move(differences_);
    }

private:
    template <typename HostOf>
    static HostHolders holdersOf(const OpenFileDescription& description, HostOf hostOf) {
        HostHolders holders;
        for (const Holder& holder : description.holders) holders.insert({hostOf(holder.containerPid), holder.fd});
        return holders;
    }

    void comparePosixLocks() {
        std::set<pid_t> expectedHosts;
        for (const Process& process : expected_.processes) {
            pid_t host = pids_.hostPid(process.containerPid);
            expectedHosts.insert(host);
            auto found = liveByHost_.find(host);
            const Process* now = host && found != liveByHost_.end() ? found->second : nullptr;
            bool holdsAnything = false;
            for (const ProcessFd& fd : process.fds) holdsAnything |= !fd.posixLocks.empty() || fd.descriptionId >= 0;
            if (!now) {
                if (holdsAnything) problem(processName(process) + ": not running in the container");
                continue;
            }
            auto want = posixLocksByFile(process);
            auto have = posixLocksByFile(*now);
            for (const auto& [file, entries] : want) compareFile(process, file, entries, have[file]);
            for (const auto& [file, entries] : have)
                if (!want.contains(file)) compareFile(process, file, {}, entries);
        }
        for (const Process& now : live_.processes)
            if (!expectedHosts.contains(now.hostPid))
                for (const ProcessFd& fd : now.fds)
                    for (const Lock& lock : fd.posixLocks)
                        problem(processName(now) + " fd " + std::to_string(fd.fd) + " " + nameOf(fd.file) + ": " +
                                describeLock(lock) + " held, not in the image");
    }

    // Both lists sorted: one merge finds what is missing and what is extra.
    void compareFile(const Process& process, const std::string& file, const std::vector<PosixEntry>& want,
                     const std::vector<PosixEntry>& have) {
        std::vector<Lock> missing, extra;
        size_t i = 0, j = 0;
        while (i < want.size() || j < have.size()) {
            if (j == have.size() || (i < want.size() && lockOrder(want[i].lock, have[j].lock))) {
                differences_.missingPosix.push_back({&process, want[i].fd, want[i].lock});
                missing.push_back(want[i].lock);
                ++i;
            } else if (i == want.size() || lockOrder(have[j].lock, want[i].lock)) {
                problem(processName(process) + " " + file + ": " + describeLock(have[j].lock) +
                        " held, not in the image");
                extra.push_back(have[j].lock);
                ++j;
            } else {
                ++i;
                ++j;
            }
        }
        for (const Lock& lock : missing)
            for (const Lock& held : extra)
                if (rangesOverlap(lock.range, held.range))
                    differences_.ownerHoldsOther.push_back(processName(process) + " " + file + ": " +
                                                           describeLock(lock) + " missing, but the process holds " +
                                                           describeLock(held));
    }

    void compareDescriptions() {
        std::vector<bool> matched(live_.descriptions.size(), false);
        for (const OpenFileDescription& description : expected_.descriptions) {
            HostHolders want = holdersOf(description, [&](pid_t pid) { return pids_.hostPid(pid); });
            const OpenFileDescription* found = nullptr;
            for (const auto& holder : want) {
                auto it = liveDescriptionOf_.find(holder);
                if (it == liveDescriptionOf_.end()) continue;
                found = &live_.descriptions[it->second];
                matched[it->second] = true;
                if (liveHolders_[it->second] != want)
                    problem("description of " + nameOf(description.file) + ": shared by " + holderText(want) +
                            " in the image, by " + holderText(liveHolders_[it->second]) + " now");
                break;
            }
            std::vector<Lock> have = found ? found->locks : std::vector<Lock>{};
            for (const Lock& lock : description.locks) {
                auto it = std::find(have.begin(), have.end(), lock);
                if (it != have.end()) have.erase(it);
                else differences_.missingDescription.push_back({&description, lock});
            }
            for (const Lock& lock : have)
                problem("description of " + nameOf(description.file) + ": " + describeLock(lock) +
                        " held, not in the image");
            for (const Lock& lock : description.locks)
                for (const Lock& held : have)
                    if (held.kind == lock.kind &&
                        (lock.kind != LockKind::ofd || rangesOverlap(lock.range, held.range)) &&
                        std::find(found->locks.begin(), found->locks.end(), lock) == found->locks.end())
                        differences_.ownerHoldsOther.push_back("description of " + nameOf(description.file) + ": " +
                                                               describeLock(lock) + " missing, but it holds " +
                                                               describeLock(held));
        }
        for (size_t i = 0; i < live_.descriptions.size(); ++i)
            if (!matched[i])
                for (const Lock& lock : live_.descriptions[i].locks)
                    problem("description of " + nameOf(live_.descriptions[i].file) + " shared by " +
                            holderText(liveHolders_[i]) + ": " + describeLock(lock) + " held, not in the image");
    }

    void compareWaiters() {
        for (const Waiter& waiter : expected_.waiters) {
            pid_t host = pids_.hostPid(waiter.containerPid);
            bool found = std::any_of(live_.waiters.begin(), live_.waiters.end(), [&](const Waiter& now) {
                return now.hostPid == host && now.requested == waiter.requested &&
                       (now.inode == waiter.inode || (!waiter.path.empty() && now.path == waiter.path));
            });
            if (!found)
                problem("waiter pid " + std::to_string(waiter.containerPid) + " " + waiter.path + ": " +
                        describeLock(waiter.requested) + " no longer waiting");
        }
    }

    void problem(std::string line) { differences_.problems.push_back(std::move(line)); }

    const LockImage& expected_;
    const LockImage& live_;
    const PidMapping& pids_;
    std::map<pid_t, const Process*> liveByHost_;
    std::map<pid_t, pid_t> liveHostOf_;
    std::vector<HostHolders> liveHolders_;
    std::map<std::pair<pid_t, int>, size_t> liveDescriptionOf_;
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

std::vector<std::string> LockDifferences::lines() const {
    std::vector<std::string> out;
    for (const MissingPosixLock& missing : missingPosix)
        out.push_back("pid " + std::to_string(missing.process->containerPid) + " (" + missing.process->command +
                      ") fd " + std::to_string(missing.fd->fd) + " " + nameOf(missing.fd->file) + ": " +
                      describeLock(missing.lock) + " missing");
    for (const MissingDescriptionLock& missing : missingDescription) {
        const Holder& holder = missing.description->holders.front();
        out.push_back("pid " + std::to_string(holder.containerPid) + " fd " + std::to_string(holder.fd) + " " +
                      nameOf(missing.description->file) + ": " + describeLock(missing.lock) + " missing");
    }
    out.insert(out.end(), problems.begin(), problems.end());
    return out;
}

LockDifferences compareLockTables(const LockImage& expected, const LockImage& live, const PidMapping& pids) {
    return Comparison(expected, live, pids).run();
}

}  // namespace lockcr
