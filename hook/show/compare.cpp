#include "show/compare.h"

#include <algorithm>

namespace lockcr {

namespace {

struct Candidate {
    RecordedLock recorded;
    std::vector<Holder> holders;
    bool matched = false;
};

bool sameLock(const Lock& lock, const CriuFileLock& entry) {
    if (entry.kind() != lock.kind) return false;
    bool leaseInBreak = lock.kind == LockKind::lease && (entry.breaking() || lock.leaseState != LeaseState::active);
    if (!leaseInBreak && entry.lockType() != lock.type) return false;
    if (lock.kind == LockKind::posix || lock.kind == LockKind::ofd) return entry.range() == lock.range;
    return true;
}

std::vector<Candidate> candidatesOf(const LockImage& image) {
    std::vector<Candidate> candidates;
    for (const Process& process : image.processes)
        for (const ProcessFd& fd : process.fds)
            for (const Lock& lock : fd.posixLocks)
                candidates.push_back(
                    {{lock, process.containerPid, fd.fd, nameOf(fd.file)}, {{process.containerPid, fd.fd}}});
    for (const OpenFileDescription& description : image.descriptions) {
        if (description.holders.empty()) continue;
        for (const Lock& lock : description.locks) {
            if (lock.kind == LockKind::lease && lock.leaseState == LeaseState::breaker)
                continue;  // an opener, not a lock
            Holder shown = description.holders.front();
            for (const Holder& holder : description.holders)
                if (holder.containerPid == lock.setBy) {
                    shown = holder;
                    break;
                }
            candidates.push_back({{lock, shown.containerPid, shown.fd, nameOf(description.file)}, description.holders});
        }
    }
    return candidates;
}

}  // namespace

LockComparison compareWithCriu(const LockImage& image, const std::vector<CriuFileLock>& criuLocks) {
    LockComparison comparison;
    std::vector<Candidate> candidates = candidatesOf(image);
    for (const CriuFileLock& entry : criuLocks) {
        auto found = std::find_if(candidates.begin(), candidates.end(), [&](const Candidate& candidate) {
            if (candidate.matched || !sameLock(candidate.recorded.lock, entry)) return false;
            Holder holder{entry.pid, entry.fd};
            return std::find(candidate.holders.begin(), candidate.holders.end(), holder) != candidate.holders.end();
        });
        if (found == candidates.end()) {
            comparison.onlyCriu.push_back(entry);
        } else {
            found->matched = true;
            ++comparison.matched;
        }
    }
    for (Candidate& candidate : candidates)
        if (!candidate.matched) comparison.onlyLockcr.push_back(std::move(candidate.recorded));
    return comparison;
}

std::string recordedPathOf(const LockImage& image, pid_t pid, int fd) {
    for (const Process& process : image.processes) {
        if (process.containerPid != pid) continue;
        for (const ProcessFd& processFd : process.fds)
            if (processFd.fd == fd) return nameOf(processFd.file);
    }
    for (const OpenFileDescription& description : image.descriptions)
        for (const Holder& holder : description.holders)
            if (holder.containerPid == pid && holder.fd == fd) return nameOf(description.file);
    return "";
}

}  // namespace lockcr
