// A stand-in for a container's filesystems, on real filesystems: a directory /tmp/lockcr-test-XXXX
// holding an overlay root (lower/upper/work -> root), a btrfs filesystem on a loop device
// (btrfs.img -> btrfsmnt, subvolume btrfsmnt/data bind-mounted at root/data), and a plain
// directory (vol, bind-mounted at root/vol). A child process chrooted into root holds a POSIX
// write lock on each file it is given, so /proc/PID/{root,mountinfo,fd} are a container's.
// Everything is removed by the destructor, and by SIGINT/SIGTERM/SIGHUP/SIGABRT as well: the
// handler kills the holder, lazily unmounts every mount (the loop device goes with the last
// unmount: mount -o loop sets autoclear) and removes the directory.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace lockcr::test {

inline void runOrThrow(const std::string& command) {
    if (std::system(command.c_str()) != 0) throw std::runtime_error("snapshot scene: failed: " + command);
}

inline void writeFileBytes(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << bytes;
    if (!out.flush()) throw std::runtime_error("snapshot scene: cannot write " + path);
}

inline std::string readFileBytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

class SnapshotScene {
public:
    SnapshotScene() {
        char nameTemplate[] = "/tmp/lockcr-test-XXXXXX";
        if (mkdtemp(nameTemplate) == nullptr) throw std::runtime_error("snapshot scene: mkdtemp failed");
        directory_ = nameTemplate;
        current_ = this;
        installSignalHandlers();
        for (const char* sub : {"lower", "lower/app", "upper", "work", "root", "vol", "btrfsmnt", "images"})
            mkdir(path(sub).c_str(), 0755);
        runOrThrow("truncate -s 256M " + path("btrfs.img") + " && mkfs.btrfs -q " + path("btrfs.img") + " >/dev/null");
        mountOrThrow("-o loop " + path("btrfs.img") + " " + path("btrfsmnt"), "btrfsmnt");
        runOrThrow("btrfs -q subvolume create " + path("btrfsmnt/data") + " >/dev/null");
        mountOrThrow("-t overlay overlay -o lowerdir=" + path("lower") + ",upperdir=" + path("upper") +
                         ",workdir=" + path("work") + " " + path("root"),
                     "root");
        for (const char* sub : {"root/data", "root/vol"}) mkdir(path(sub).c_str(), 0755);
        mountOrThrow("--bind " + path("btrfsmnt/data") + " " + path("root/data"), "root/data");
        mountOrThrow("--bind " + path("vol") + " " + path("root/vol"), "root/vol");
    }
    SnapshotScene(const SnapshotScene&) = delete;
    SnapshotScene& operator=(const SnapshotScene&) = delete;
    ~SnapshotScene() {
        cleanUp();
        current_ = nullptr;
    }

    std::string path(const std::string& relative) const { return directory_ + "/" + relative; }
    // A host path of a file inside the container: through the mounted root.
    std::string inRoot(const std::string& containerPath) const { return directory_ + "/root" + containerPath; }

    // A tiny ext4 filesystem on a loop device at NAME (for disk-full tests).
    std::string mountTinyFilesystem(const std::string& name, int megabytes) {
        mkdir(path(name).c_str(), 0755);
        runOrThrow("truncate -s " + std::to_string(megabytes) + "M " + path(name + ".img") + " && mkfs.ext4 -q -F " +
                   path(name + ".img") + " >/dev/null 2>&1");
        mountOrThrow("-o loop " + path(name + ".img") + " " + path(name), name);
        return path(name);
    }

    // Forks the holder: chrooted into root, it opens each of PATHS (inside the container) read-write
    // and takes a POSIX write lock on the whole file, then waits to be killed. Returns its pid.
    pid_t startHolder(const std::vector<std::string>& paths) {
        int ready[2];
        if (pipe(ready) != 0) throw std::runtime_error("snapshot scene: pipe");
        pid_t pid = fork();
        if (pid < 0) throw std::runtime_error("snapshot scene: fork");
        if (pid == 0) {
            close(ready[0]);
            if (chroot(path("root").c_str()) != 0 || chdir("/") != 0) _exit(2);
            for (const std::string& file : paths) {
                int fd = open(file.c_str(), O_RDWR);
                struct flock lock {};
                lock.l_type = F_WRLCK;
                lock.l_whence = SEEK_SET;
                if (fd < 0 || fcntl(fd, F_SETLK, &lock) != 0) _exit(3);
            }
            (void)!write(ready[1], "r", 1);
            for (;;) pause();
        }
        close(ready[1]);
        char byte = 0;
        bool ok = read(ready[0], &byte, 1) == 1;
        close(ready[0]);
        holders_.push_back(pid);
        if (!ok) throw std::runtime_error("snapshot scene: the holder could not open and lock its files");
        return pid;
    }

private:
    void mountOrThrow(const std::string& arguments, const std::string& relative) {
        runOrThrow("mount " + arguments);
        mounts_.push_back(path(relative));
    }

    void cleanUp() {
        for (pid_t holder : holders_) {
            kill(holder, SIGKILL);
            waitpid(holder, nullptr, 0);
        }
        holders_.clear();
        for (auto mount = mounts_.rbegin(); mount != mounts_.rend(); ++mount)
            if (umount2(mount->c_str(), 0) != 0) umount2(mount->c_str(), MNT_DETACH);
        mounts_.clear();
        if (!directory_.empty()) std::system(("rm -rf --one-file-system " + directory_).c_str());
        directory_.clear();
    }

    static void onSignal(int signalNumber) {
        // Not async-signal-safe in general, but the test is dying anyway: leaving mounts and loop
        // devices behind is worse.
        if (current_) current_->cleanUp();
        signal(signalNumber, SIG_DFL);
        raise(signalNumber);
    }

    static void installSignalHandlers() {
        for (int signalNumber : {SIGINT, SIGTERM, SIGHUP, SIGABRT}) signal(signalNumber, onSignal);
    }

    std::string directory_;
    std::vector<std::string> mounts_;
    std::vector<pid_t> holders_;
    static inline SnapshotScene* current_ = nullptr;
};

}  // namespace lockcr::test
