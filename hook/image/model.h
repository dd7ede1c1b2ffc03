// The lock image: what lockcr records about a frozen container and replays later. The layout is
// the seed's (Documentation/checkpoint/file-locks): per process, per fd, the count of locks and
// then each lock. Ownership follows the kernel: a POSIX lock belongs to a process (its
// files_struct) and is listed under the fd it was set through; flock, OFD locks and leases belong
// to one open file description, recorded once with every (pid, fd) that shares it.
#pragma once

#include <sys/types.h>

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lockcr {

constexpr int kLockImageVersion = 1;
constexpr const char* kLockImageSchemaId = "https://lockcr.dev/schema/lock-image/v1";

enum class LockKind { posix, ofd, flock, lease };
// unlock appears only as the target of a lease that is breaking to "no lease".
enum class LockType { read, write, unlock };
// For leases: active, breaking (a conflicting open started the break), breaker (the blocked
// opener, seen in /proc/locks only). Always none for the other kinds.
enum class LeaseState { none, active, breaking, breaker };

struct DeviceNumber {
    uint32_t major = 0;
    uint32_t minor = 0;
    auto operator<=>(const DeviceNumber&) const = default;
};

// The range of a byte-range lock, both ends inclusive as /proc/locks prints them; no end = EOF.
struct LockRange {
    uint64_t start = 0;
    std::optional<uint64_t> end;
    bool operator==(const LockRange&) const = default;
};

struct Lock {
    LockKind kind = LockKind::posix;
    LockType type = LockType::read;
    LeaseState leaseState = LeaseState::none;
    LockRange range;
    // flock and lease: the container pid of the process that set it, the pid the kernel shows for
    // it (/proc/locks, fdinfo); 0 if unknown or outside the container. Replay sets the lock again
    // from that process when it still holds the description.
    pid_t setBy = 0;

    // What the lock is. Who set it is not part of it: the same flock set again by another holder
    // of the description is the same lock.
    bool operator==(const Lock& other) const {
        return kind == other.kind && type == other.type && leaseState == other.leaseState && range == other.range;
    }
};

struct FileIdentity {
    std::string path;  // as seen inside the container; " (deleted)" stripped, see deleted
    bool deleted = false;
    int mountId = -1;  // mnt_id from fdinfo
    DeviceNumber device;
    uint64_t inode = 0;
};

// One fd of one process that refers to a locked file.
struct ProcessFd {
    int fd = -1;
    int descriptionId = -1;  // index into LockImage::descriptions, -1 if it shares none with locks
    unsigned openFlags = 0;  // fdinfo "flags", octal there
    FileIdentity file;
    std::vector<Lock> posixLocks;  // POSIX locks this process set through this fd
};

struct Process {
    pid_t containerPid = 0;  // in the container's pid namespace
    pid_t hostPid = 0;       // in the namespace lockcr ran in
    std::string command;     // comm
    int threadCount = 1;
    std::vector<ProcessFd> fds;
};

struct Holder {
    pid_t containerPid = 0;
    int fd = -1;
    bool operator==(const Holder&) const = default;
};

// F_GETOWN_EX / F_GETSIG of a description: whom a lease break signals, and with what.
struct SignalOwner {
    int ownerType = 0;       // F_OWNER_TID, F_OWNER_PID, F_OWNER_PGRP
    pid_t containerPid = 0;  // the owner in the container's namespace; 0 = none
    int signal = 0;          // 0 = SIGIO
    bool operator==(const SignalOwner&) const = default;
};

// An open file description that holds flock, OFD or lease locks.
struct OpenFileDescription {
    int id = 0;
    FileIdentity file;
    unsigned openFlags = 0;
    std::vector<Holder> holders;  // every (pid, fd) sharing it, checked with kcmp(KCMP_FILE)
    std::vector<Lock> locks;
    std::optional<SignalOwner> signalOwner;  // recorded when it holds a lease
};

// A task blocked waiting for a lock (the "->" lines of /proc/locks).
struct Waiter {
    pid_t containerPid = 0;
    pid_t hostPid = 0;
    Lock requested;
    DeviceNumber device;
    uint64_t inode = 0;
    std::string path;                 // when a recorded fd refers to the same file, else empty
    Lock blockedOn;                   // the lock it waits for
    pid_t blockedOnContainerPid = 0;  // its holder; 0 = OFD/flock whose holder is a description
};

struct ContainerIdentity {
    std::string id;        // OCI state "id", empty in --pid mode
    std::string bundle;    // OCI state "bundle"
    std::string rootPath;  // the container's root as seen from the host, if known
    pid_t initHostPid = 0;
    uint64_t pidNamespace = 0;  // inode of /proc/PID/ns/pid
    std::string cgroup;         // the cgroup whose members are the container's tasks
    std::string membership;     // "cgroup" or "pid-namespace": how tasks were found
};

struct HostInfo {
    std::string hostname;
    std::string kernelRelease;
    std::string bootId;
};

struct LockImage {
    int version = kLockImageVersion;
    std::string createdAt;  // RFC 3339 UTC
    std::string tool;       // "lockcr VERSION"
    HostInfo host;
    ContainerIdentity container;
    std::vector<Process> processes;
    std::vector<OpenFileDescription> descriptions;
    std::vector<Waiter> waiters;
};

// Every lock the image holds (POSIX locks under fds, locks of descriptions); waiters not counted.
size_t countLocks(const LockImage& image);

// Names used in text and JSON ("posix", "write", "breaking"...). Not toString: doctest finds
// that name by ADL for enums and expects its own String back.
const char* nameOf(LockKind kind);
const char* nameOf(LockType type);
const char* nameOf(LeaseState state);
// A file in messages and tables: its path, or "major:minor:inode" when the image has no path.
std::string nameOf(const FileIdentity& file);
// A lock in messages (verify's differences, replay's and precheck's conflicts): "POSIX WRITE
// [10,29]", "LEASE READ (breaking)".
std::string describeLock(const Lock& lock);
// The inverse of nameOf; an unknown name throws Error(badInput) listing the known ones.
LockKind lockKindFromString(std::string_view name);
LockType lockTypeFromString(std::string_view name);
LeaseState leaseStateFromString(std::string_view name);

// "fe:00": hex major and minor, at least two digits each, as /proc/locks prints a device.
std::string deviceNumberToString(DeviceNumber device);
// Parses "MAJOR:MINOR" in lowercase hex of two digits or more (major < 2^12, minor < 2^20: the
// kernel's dev_t split); anything else throws Error(badInput).
DeviceNumber deviceNumberFromString(std::string_view text);

}  // namespace lockcr
