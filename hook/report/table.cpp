#include "report/table.h"

#include <algorithm>
#include <vector>

namespace lockcr {

namespace {

using Row = std::vector<std::string>;

std::string upper(const char* text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::toupper(c); });
    return out;
}

std::string kindName(const Lock& lock) {
    if (lock.kind == LockKind::ofd) return "OFDLCK";
    if (lock.kind == LockKind::lease && lock.leaseState != LeaseState::active)
        return "LEASE(" + std::string(nameOf(lock.leaseState)) + ")";
    return upper(nameOf(lock.kind));
}

std::string endName(const LockRange& range) { return range.end ? std::to_string(*range.end) : "EOF"; }

std::string fileName(const FileIdentity& file) {
    return file.deleted && !file.path.empty() ? file.path + " (deleted)" : nameOf(file);
}

Row lockRow(const Process& process, int fd, const Lock& lock, const FileIdentity& file, std::string note) {
    return {process.command,
            std::to_string(process.containerPid),
            std::to_string(process.hostPid),
            std::to_string(fd),
            kindName(lock),
            upper(nameOf(lock.type)),
            std::to_string(lock.range.start),
            endName(lock.range),
            fileName(file),
            std::move(note)};
}

const Process* processOf(const LockImage& image, pid_t containerPid) {
    for (const Process& process : image.processes)
        if (process.containerPid == containerPid) return &process;
    return nullptr;
}

std::string render(const std::vector<Row>& rows) {
    std::vector<size_t> widths(rows.front().size(), 0);
    for (const Row& row : rows)
        for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
    std::string out;
    for (const Row& row : rows) {
        std::string line;
        for (size_t i = 0; i < row.size(); ++i) {
            line += row[i];
            if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 1, ' ');
        }
        while (!line.empty() && line.back() == ' ') line.pop_back();
        out += line + "\n";
    }
    return out;
}

}  // namespace

std::string formatLockTable(const LockImage& image) {
    std::vector<Row> rows{{"COMMAND", "PID", "HOST-PID", "FD", "TYPE", "MODE", "START", "END", "PATH", "NOTE"}};
    for (const Process& process : image.processes)
        for (const ProcessFd& fd : process.fds)
            for (const Lock& lock : fd.posixLocks) rows.push_back(lockRow(process, fd.fd, lock, fd.file, ""));
    for (const OpenFileDescription& description : image.descriptions) {
        const Holder& first = description.holders.front();
        const Process* process = processOf(image, first.containerPid);
        if (!process) continue;
        std::string shared;
        for (size_t i = 1; i < description.holders.size(); ++i)
            shared += (shared.empty() ? "shared with " : ",") + std::to_string(description.holders[i].containerPid) +
                      ":" + std::to_string(description.holders[i].fd);
        for (const Lock& lock : description.locks)
            rows.push_back(lockRow(*process, first.fd, lock, description.file, shared));
    }
    for (const Waiter& waiter : image.waiters) {
        Process process{waiter.containerPid, waiter.hostPid, "", 1, {}};
        if (const Process* known = processOf(image, waiter.containerPid)) process.command = known->command;
        FileIdentity file{waiter.path, false, -1, waiter.device, waiter.inode};
        std::string note = "waiting for " + kindName(waiter.blockedOn) + " " + upper(nameOf(waiter.blockedOn.type)) +
                           (waiter.blockedOnContainerPid ? " of pid " + std::to_string(waiter.blockedOnContainerPid)
                                                         : "");
        Row row = lockRow(process, -1, waiter.requested, file, note);
        row[3] = "-";
        row[5] += "*";
        rows.push_back(std::move(row));
    }
    return render(rows);
}

}  // namespace lockcr
