#include "replay/pending_calls.h"

#include <fcntl.h>

#include <cstring>
#include <span>
#include <vector>

#include "replay/inject_arch.h"
#include "replay/tracee.h"
#include "util/error.h"
#include "util/log.h"
#include "util/ptrace.h"
#include "util/sys.h"

namespace lockcr {

bool standsOnSyscallInstruction(pid_t pid, pid_t threadId, uint64_t address) {
    std::span<const unsigned char> instruction = inject_arch::syscallInstruction();
    std::vector<unsigned char> bytes(instruction.size());
    int err = 0;
    UniqueFd memory = sys::tryOpenAt(AT_FDCWD, sys::threadDirectory(pid, threadId) + "/mem", O_RDONLY, err);
    return memory && sys::tryReadMemory(memory.get(), address, bytes.data(), bytes.size()) == 0 &&
           std::memcmp(bytes.data(), instruction.data(), bytes.size()) == 0;
}

PendingSyscalls pendingBySeizing(std::chrono::milliseconds timeout) {
    return [timeout](pid_t pid, pid_t threadId, uint64_t instructionPointer) -> std::optional<SyscallLine> {
        if (!standsOnSyscallInstruction(pid, threadId, instructionPointer)) return std::nullopt;
        try {
            StoppedProcess process = StoppedProcess::seizeAndInterrupt(pid);
            process.waitUntilStopped(timeout);
            std::optional<SyscallLine> pending = inject_arch::pendingSyscall(sys::getRegisters(threadId));
            process.detach();
            return pending;
        } catch (const Error& error) {
            logInfo("verify: pid " + std::to_string(pid) + " tid " + std::to_string(threadId) +
                    ": pending call not read: " + error.what());
            return std::nullopt;
        }
    };
}

}  // namespace lockcr
