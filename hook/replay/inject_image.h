// What an injection writes into its target and reads of it: the image of the lock loop (its code,
// then one 64-byte entry per call, see inject_arch.h) and the target's memory mappings, where the
// injection looks for a syscall instruction.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "replay/inject.h"

namespace lockcr {

struct Mapping {
    uint64_t start = 0;
    uint64_t end = 0;
    std::string permissions;
    std::string name;
};

// Through the thread's own /proc entries (sys::threadDirectory).
std::vector<Mapping> readMappings(pid_t pid, pid_t tid);

// Where the entries start in the image, and the bytes to map for CALLS calls (whole pages).
uint64_t entriesOffset();
uint64_t injectionImageSize(size_t calls, uint64_t pageSize);

// The loop's code, then the entries it reads, padded to whole 8-byte words (for PTRACE_POKEDATA),
// for a mapping at ADDRESS in the target.
std::vector<unsigned char> buildImage(const std::vector<LockCall>& calls, uint64_t address);

}  // namespace lockcr
