#include "replay/precheck.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <map>
#include <set>

#include "util/error.h"
#include "util/files_in_root.h"
#include "util/sys.h"

namespace lockcr {

namespace {

std::vector<WantedLock> wantedLocksOf(const LockImage& image) {
    std::vector<WantedLock> wanted;
    for (const Process& process : image.processes)
        for (const ProcessFd& fd : process.fds)
            for (const Lock& lock : fd.posixLocks)
                wanted.push_back({fd.file.path, 0, {}, lock, 0, process.containerPid, fd.fd});
    for (const OpenFileDescription& description : image.descriptions)
        for (const Lock& lock : description.locks)
            wanted.push_back({description.file.path,
                              0,
                              {},
                              lock,
                              0,
                              description.holders.front().containerPid,
                              description.holders.front().fd});
    return wanted;
}

// F_OFD_GETLK from a fresh description: every POSIX or OFD lock that would block this one shows.
std::optional<LockLine> byteRangeHolder(int fd, const WantedLock& want) {
    struct flock probe {};
    probe.l_type = want.lock.type == LockType::write ? F_WRLCK : F_RDLCK;
    probe.l_whence = SEEK_SET;
    probe.l_start = static_cast<off_t>(want.lock.range.start);
    probe.l_len = want.lock.range.end ? static_cast<off_t>(*want.lock.range.end - want.lock.range.start + 1) : 0;
    if (sys::fcntlPointer(fd, F_OFD_GETLK, &probe) != 0) throwErrno("F_OFD_GETLK " + want.path);
    if (probe.l_type == F_UNLCK) return std::nullopt;
    LockLine held;
    held.pid = probe.l_pid;
    held.lock.kind = probe.l_pid == -1 ? LockKind::ofd : LockKind::posix;
    held.lock.type = probe.l_type == F_WRLCK ? LockType::write : LockType::read;
    held.lock.range.start = static_cast<uint64_t>(probe.l_start);
    if (probe.l_len > 0) held.lock.range.end = static_cast<uint64_t>(probe.l_start + probe.l_len - 1);
    return held;
}

}  // namespace

PrecheckReport precheckImage(const LockImage& image, int rootDirectoryFd, const Container* container) {
    PrecheckReport report;
    ProcLocksTable table = parseProcLocks(sys::readFile("/proc/locks"));
    std::set<std::pair<DeviceNumber, uint64_t>> leased;
    // The lines of each file: a host holding tens of thousands of locks made matching every wanted
    // lock against every line cost more than the rest of a restore.
    std::map<std::pair<DeviceNumber, uint64_t>, ProcLocksTable> linesOfFile;
    for (const LockLine& held : table.held) {
        if (held.lock.kind == LockKind::lease) leased.emplace(held.device, held.inode);
        linesOfFile[{held.device, held.inode}].held.push_back(held);
    }
    const ProcLocksTable noLines;
    // Per file, not per lock: an image of 20,000 locks names far fewer files, and each file is
    // opened, stat'ed and matched against /proc/locks once.
    std::map<std::string, std::vector<WantedLock>> byFile;
    for (WantedLock& want : wantedLocksOf(image)) {
        if (want.path.empty())
            report.unreachable.push_back("pid " + std::to_string(want.containerPid) + " fd " + std::to_string(want.fd) +
                                         ": the image names no path");
        else byFile[want.path].push_back(std::move(want));
    }
    // Each file's directory is resolved once (thousands of files sit in a few directories); a name
    // that is a symlink now is resolved whole, as CRIU's own open of the path followed it.
    FilesInRoot files(rootDirectoryFd);
    for (auto& [path, wants] : byFile) {
        struct stat info {};
        int err = 0;
        UniqueFd file;
        try {
            file = files.openPath(path, err);
        } catch (const Error&) {  // not a plain absolute path to a name: resolved whole below
        }
        if (file && !sys::tryStatFd(file.get(), info, err)) throwErrno("stat " + path, err);
        if (!file || S_ISLNK(info.st_mode)) {
            try {
                file = sys::openInRoot(rootDirectoryFd, path, O_PATH);
            } catch (const Error& error) {
                report.unreachable.push_back(error.what());
                continue;
            }
            if (!sys::tryStatFd(file.get(), info, err)) throwErrno("stat " + path, err);
        }
        for (WantedLock& want : wants) {
            want.inode = info.st_ino;
            want.device = {major(info.st_dev), minor(info.st_dev)};
        }
        // /proc/locks first: it sees flocks and leases, and it tells whether opening the file to ask
        // F_OFD_GETLK would start breaking somebody's lease (an open does that).
        auto lines = linesOfFile.find({wants.front().device, wants.front().inode});
        std::vector<Conflict> listed =
            findConflicts(wants, lines == linesOfFile.end() ? noLines : lines->second, container);
        if (!listed.empty() || leased.contains({wants.front().device, wants.front().inode})) {
            report.conflicts.insert(report.conflicts.end(), listed.begin(), listed.end());
            continue;
        }
        // Only a regular file is opened for F_OFD_GETLK, and through the fd already resolved: a name
        // the container swapped meanwhile for a FIFO or a device node is never opened (an open of a
        // device runs its driver). Any other kind of file is checked by /proc/locks alone, above.
        if (!S_ISREG(info.st_mode)) continue;
        UniqueFd readable;
        for (const WantedLock& want : wants) {
            if (want.lock.kind == LockKind::flock || want.lock.kind == LockKind::lease)
                continue;  // F_GETLK can't see them
            if (!readable) readable = sys::reopen(file.get(), O_RDONLY | O_NONBLOCK | O_NOCTTY, path);
            if (auto held = byteRangeHolder(readable.get(), want))
                report.conflicts.push_back(describeConflict(want, *held, container));
        }
    }
    return report;
}

}  // namespace lockcr
