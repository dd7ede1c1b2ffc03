// /proc/locks (hook/collect/proc_locks.cpp): the whole table, and one line as fdinfo quotes it.
#include "collect/proc_locks.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace lockcr;
    std::string_view text = fuzz::textOf(data, size);
    fuzz::expectOnlyLockcrErrors([&] {
        ProcLocksTable table = parseProcLocks(text);
        for (const LockWait& wait : table.waits)
            fuzz::require(wait.waiter.blockedLevel == wait.blocker.blockedLevel + 1,
                          "/proc/locks: a waiter is one level below what it waits on");
    });
    std::string_view firstLine = text.substr(0, text.find('\n'));
    fuzz::expectOnlyLockcrErrors([&] { parseLockLine(firstLine); });
    return 0;
}
