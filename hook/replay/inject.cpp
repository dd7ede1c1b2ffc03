#include "replay/inject.h"

#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "replay/inject_arch.h"
#include "replay/inject_image.h"
#include "util/error.h"
#include "util/log.h"
#include "util/ptrace.h"
#include "util/sys.h"
#include "util/unique_fd.h"

namespace lockcr {

namespace {

uint64_t signalBit(int signal) { return 1ULL << (signal - 1); }

// The signals the injected code itself may raise. The kernel forces them (force_sig_info_to_task)
// and, if one is blocked or ignored, unblocks it and resets its handler to SIG_DFL for the whole
// process: they stay deliverable. Every other signal waits, blocked, for the thread's own mask.
const uint64_t kOwnSignals = signalBit(SIGTRAP) | signalBit(SIGSEGV) | signalBit(SIGBUS) | signalBit(SIGILL) |
                             signalBit(SIGFPE) | signalBit(SIGSYS);

// A rollback gets this long for each step that waits for the thread.
constexpr std::chrono::milliseconds kRollbackTimeout{1000};

struct Region {
    uint64_t address = 0;
    uint64_t size = 0;
};

std::string hex(uint64_t value) {
    char text[32];
    std::snprintf(text, sizeof text, "0x%llx", static_cast<unsigned long long>(value));
    return text;
}

// Once the lock loop has started, any failure (bad_alloc included) must carry the count of calls
// that may have taken effect, so it becomes a FailedAfterLoop, which is an Error.
Error asError(const std::exception& error) {
    if (const auto* ours = dynamic_cast<const Error*>(&error)) return *ours;
    return Error(error.what());
}

uint64_t pageSize() { return static_cast<uint64_t>(::sysconf(_SC_PAGESIZE)); }

// One injection into one thread. Owns everything it changes in the target (registers, signal
// mask, the mapping, a borrowed instruction) and puts it back: restoreThread() on success, the
// destructor's rollBack() on every other path.
class Injection {
public:
    Injection(pid_t pid, pid_t tid, std::chrono::milliseconds timeout);
    Injection(const Injection&) = delete;
    Injection& operator=(const Injection&) = delete;
    ~Injection();

    // start() leaves the thread running the lock loop (several processes can run theirs at once);
    // finish() waits for it and puts the thread back. run() is both.
    void start(const std::vector<LockCall>& requests);
    InjectionResult finish();
    InjectionResult run(const std::vector<LockCall>& requests) {
        start(requests);
        return finish();
    }

private:
    uint64_t findSyscallInstructionNearPc();
    uint64_t findSyscallInstructionInVdso(const std::vector<Mapping>& mappings);
    uint64_t borrowSyscallInstruction(const std::vector<Mapping>& mappings);
    void unpatch();
    void writeMemory(uint64_t address, const void* data, size_t size);
    int64_t runSyscall(uint64_t instruction, long number, const std::array<uint64_t, 6>& arguments);
    void startLockLoop(size_t count);
    inject_arch::LockLoopOutcome awaitLockLoop();
    void stepToSyscallStop();
    void resume(bool syscallStops);
    sys::ThreadReport awaitStop();
    sys::ThreadReport resumeAndWait(bool syscallStops) {
        resume(syscallStops);
        return awaitStop();
    }
    void noteSignalStop(const sys::ThreadReport& report, bool throwIfOurs);
    void unmap();
    void restoreThread();
    void bringToStop();
    void dropOwnPendingSignals();
    void rollBack() noexcept;
    std::string where() const;

    pid_t pid_;
    pid_t tid_;
    std::chrono::milliseconds timeout_;
    sys::Deadline deadline_;
    UniqueFd memory_;
    sys::Registers saved_{};
    uint64_t savedMask_ = 0;
    bool hijacked_ = false;        // registers or mask changed: a restore is owed
    bool inStop_ = true;           // in a ptrace stop, where registers can be written
    bool atSyscallEntry_ = false;  // in the syscall-enter stop of an injected syscall
    bool gone_ = false;
    uint64_t syscallInstruction_ = 0;  // usable while the vdso's or the borrowed one is in place
    Region patch_;
    uint64_t patchOriginal_ = 0;
    Region mapping_;
    bool codeWritten_ = false;
    uint64_t codeSyscall_ = 0;
    size_t requestCount_ = 0;
    std::vector<siginfo_t> foreignSignals_;
};

Injection::Injection(pid_t pid, pid_t tid, std::chrono::milliseconds timeout)
        : pid_(pid), tid_(tid), timeout_(timeout), deadline_(std::chrono::steady_clock::now() + timeout) {
    saved_ = sys::getRegisters(tid_);
    savedMask_ = sys::getSignalMask(tid_);
    memory_ = sys::openAt(AT_FDCWD, sys::threadDirectory(pid_, tid_) + "/mem", O_RDWR);
    sys::setSignalMask(tid_, ~kOwnSignals);  // the kernel never blocks SIGKILL and SIGSTOP
    hijacked_ = true;                        // last: a constructor that throws gets no destructor call
}

Injection::~Injection() {
    if (hijacked_) rollBack();
}

std::string Injection::where() const {
    return "inject lock calls into pid " + std::to_string(pid_) + " tid " + std::to_string(tid_);
}

void Injection::start(const std::vector<LockCall>& requests) {
    syscallInstruction_ = findSyscallInstructionNearPc();
    if (!syscallInstruction_) {
        std::vector<Mapping> mappings = readMappings(pid_, tid_);
        syscallInstruction_ = findSyscallInstructionInVdso(mappings);
        if (!syscallInstruction_) syscallInstruction_ = borrowSyscallInstruction(mappings);
    }

    uint64_t size = injectionImageSize(requests.size(), pageSize());
    int64_t address = runSyscall(syscallInstruction_, SYS_mmap,
                                 {0, size, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, ~0ULL, 0});
    if (address < 0 && address > -4096)
        throwErrno(where() + ": mmap of " + std::to_string(size) + " bytes", static_cast<int>(-address));
    if (address <= 0 || static_cast<uint64_t>(address) % pageSize() != 0)
        throwFailure(where() + ": mmap returned " + hex(static_cast<uint64_t>(address)) +
                     " (a seccomp filter trapping it?)");
    mapping_ = {static_cast<uint64_t>(address), size};
    unpatch();

    std::vector<unsigned char> image = buildImage(requests, mapping_.address);
    writeMemory(mapping_.address, image.data(), image.size());
    codeWritten_ = true;
    codeSyscall_ = mapping_.address + inject_arch::lockLoopCode().syscallOffset;
    requestCount_ = requests.size();
    // From here on, calls may have taken effect: every failure says how many may have (all of
    // them while the loop's own count is unknown; undoing a call that never took effect unlocks
    // nothing that replay did not mean to set).
    try {
        startLockLoop(requests.size());
    } catch (const std::exception& error) {
        throw FailedAfterLoop(asError(error), requests.size());
    }
}

// Called later than start() when other processes' loops were started in between: the wait gets
// its own full timeout from here.
InjectionResult Injection::finish() {
    deadline_ = std::max(deadline_, std::chrono::steady_clock::now() + timeout_);
    inject_arch::LockLoopOutcome outcome{};
    try {
        outcome = awaitLockLoop();
    } catch (const std::exception& error) {
        throw FailedAfterLoop(asError(error), requestCount_);
    }
    bool complete = outcome.result == 0 && outcome.applied == requestCount_;
    bool failedAt = outcome.result < 0 && outcome.result > -4096 && outcome.applied < requestCount_;
    if (!complete && !failedAt)
        throw FailedAfterLoop(Error(where() + ": the lock loop ended with " + std::to_string(outcome.applied) +
                                    " applied and result " + std::to_string(outcome.result)),
                              requestCount_);
    InjectionResult result{static_cast<size_t>(outcome.applied), static_cast<int>(-outcome.result)};

    // The locks are set now: a mapping that cannot be removed is worth a warning, not a failure;
    // any other failure from here on tells the caller how many calls took effect.
    try {
        try {
            unmap();
        } catch (const Error& error) {
            if (gone_ || !inStop_) throw;
            logWarning(std::string(error.what()) + "; an anonymous r-x mapping of " + std::to_string(mapping_.size) +
                       " bytes stays at " + hex(mapping_.address));
            mapping_ = {};
        }
        restoreThread();
    } catch (const std::exception& error) {
        throw FailedAfterLoop(asError(error), result.applied);
    }
    return result;
}

// Only on pc's own page: that one is executable (the thread runs there), the one before may not be.
uint64_t Injection::findSyscallInstructionNearPc() {
    std::span<const unsigned char> instruction = inject_arch::syscallInstruction();
    uint64_t pc = inject_arch::programCounter(saved_);
    for (uint64_t address : inject_arch::syscallInstructionsNearPc(saved_)) {
        if (address / pageSize() != pc / pageSize()) continue;
        unsigned char bytes[8] = {};
        if (sys::tryReadMemory(memory_.get(), address, bytes, instruction.size()) == 0 &&
            std::memcmp(bytes, instruction.data(), instruction.size()) == 0)
            return address;
    }
    return 0;
}

// A syscall instruction in the [vdso] (x86_64: any "0f 05", even inside a longer instruction,
// executes as syscall when jumped to). Not the thread's own pc: on arm64 the kernel could still
// treat that address as the restart point of the interrupted syscall.
uint64_t Injection::findSyscallInstructionInVdso(const std::vector<Mapping>& mappings) {
    std::span<const unsigned char> instruction = inject_arch::syscallInstruction();
    uint64_t avoid = inject_arch::programCounter(saved_);
    for (const Mapping& mapping : mappings) {
        if (mapping.name != "[vdso]" || mapping.end <= mapping.start) continue;
        std::vector<unsigned char> bytes(mapping.end - mapping.start);
        if (sys::tryReadMemory(memory_.get(), mapping.start, bytes.data(), bytes.size()) != 0) continue;
        for (size_t offset = 0; offset + instruction.size() <= bytes.size();
             offset += inject_arch::instructionAlignment())
            if (std::memcmp(bytes.data() + offset, instruction.data(), instruction.size()) == 0 &&
                mapping.start + offset != avoid)
                return mapping.start + offset;
    }
    return 0;
}

// No [vdso] (booted with vdso=0, or unmapped): write a syscall instruction over the first word of
// a private code mapping for the one mmap, and put the word back right after. Every thread is
// stopped, and writing a private mapping through /proc/PID/mem only copies that page for this
// process (CRIU's compel does this at the thread's pc).
uint64_t Injection::borrowSyscallInstruction(const std::vector<Mapping>& mappings) {
    uint64_t avoid = inject_arch::programCounter(saved_);
    for (const Mapping& mapping : mappings) {
        if (mapping.permissions != "r-xp" || mapping.name == "[vsyscall]" || mapping.end - mapping.start < 16) continue;
        uint64_t address = mapping.start == avoid ? mapping.start + 8 : mapping.start;
        uint64_t original = 0;
        if (sys::tryReadMemory(memory_.get(), address, &original, sizeof original) != 0) continue;
        uint64_t patched = original;
        std::span<const unsigned char> instruction = inject_arch::syscallInstruction();
        std::memcpy(&patched, instruction.data(), instruction.size());
        writeMemory(address, &patched, sizeof patched);
        patch_ = {address, sizeof patched};
        patchOriginal_ = original;
        return address;
    }
    throwFailure(where() + ": no syscall instruction to use (no [vdso], no private code mapping)");
}

void Injection::unpatch() {
    if (!patch_.size) return;
    writeMemory(patch_.address, &patchOriginal_, sizeof patchOriginal_);
    patch_ = {};
    syscallInstruction_ = 0;
}

void Injection::writeMemory(uint64_t address, const void* data, size_t size) {
    if (sys::tryWriteMemory(memory_.get(), address, data, size) == 0) return;
    // /proc/PID/mem may refuse to force a write (proc_mem.force_override=never); the tracer's
    // PTRACE_POKEDATA always may. Callers write whole words.
    for (size_t offset = 0; offset < size; offset += sizeof(uint64_t)) {
        uint64_t word = 0;
        std::memcpy(&word, static_cast<const char*>(data) + offset, std::min(sizeof word, size - offset));
        sys::pokeWord(tid_, address + offset, word);
    }
}

int64_t Injection::runSyscall(uint64_t instruction, long number, const std::array<uint64_t, 6>& arguments) {
    sys::Registers registers = saved_;
    inject_arch::prepareSyscall(registers, instruction, number, arguments);
    sys::setRegisters(tid_, registers);
    stepToSyscallStop();
    atSyscallEntry_ = true;
    stepToSyscallStop();
    atSyscallEntry_ = false;
    return inject_arch::syscallResult(sys::getRegisters(tid_));
}

void Injection::startLockLoop(size_t count) {
    sys::Registers registers = saved_;
    inject_arch::prepareLockLoop(registers, mapping_.address, mapping_.address + entriesOffset(), count);
    sys::setRegisters(tid_, registers);
    resume(false);
}

inject_arch::LockLoopOutcome Injection::awaitLockLoop() {
    for (sys::ThreadReport report = awaitStop();; report = resumeAndWait(false)) {
        if (report.kind != sys::ThreadReport::Kind::signalStop) continue;
        if (report.signal == SIGTRAP) {
            sys::Registers now = sys::getRegisters(tid_);
            if (inject_arch::atLockLoopEnd(now, mapping_.address)) return inject_arch::lockLoopOutcome(now);
        }
        noteSignalStop(report, true);
    }
}

// Event stops (a group stop that began meanwhile: the kernel re-enters it at detach) and foreign
// signals are stepped over.
void Injection::stepToSyscallStop() {
    for (;;) {
        sys::ThreadReport report = resumeAndWait(true);
        if (report.kind == sys::ThreadReport::Kind::syscallStop) return;
        if (report.kind == sys::ThreadReport::Kind::signalStop) noteSignalStop(report, true);
    }
}

// Resuming with signal 0 suppresses the signal of a signal-delivery-stop: noteSignalStop has
// recorded it, or it was our own.
void Injection::resume(bool syscallStops) {
    if (syscallStops) sys::resumeWithSyscallStops(tid_, 0);
    else sys::resume(tid_, 0);
    inStop_ = false;
}

sys::ThreadReport Injection::awaitStop() {
    sys::ThreadReport report;
    sys::WaitOutcome outcome = sys::waitThread(tid_, report, deadline_);
    if (outcome == sys::WaitOutcome::nothingYet) throwErrno(where() + ": the thread did not stop in time", ETIMEDOUT);
    if (outcome == sys::WaitOutcome::notOurs || report.kind == sys::ThreadReport::Kind::exited) {
        gone_ = true;
        std::string how = report.signal ? std::string(" (killed by ") + ::sigabbrev_np(report.signal) +
                                              (report.signal == SIGSYS ? ": seccomp?)" : ")")
                                        : "";
        throwErrno(where() + ": the process exited during injection" + how, ESRCH);
    }
    inStop_ = true;
    return report;
}

// A signal that the kernel raised for our code (si_code > 0: a fault, seccomp's SIGSYS) ends the
// injection; one sent by a process arrived by chance and is queued again after the restore.
void Injection::noteSignalStop(const sys::ThreadReport& report, bool throwIfOurs) {
    siginfo_t info = sys::getSignalInfo(tid_);
    if ((signalBit(report.signal) & kOwnSignals) && info.si_code > 0) {
        if (!throwIfOurs) return;
        std::string detail = report.signal == SIGSYS
                                 ? " from a seccomp filter, syscall " + std::to_string(info.si_syscall)
                                 : " at " + hex(reinterpret_cast<uint64_t>(info.si_addr));
        throwFailure(where() + ": SIG" + ::sigabbrev_np(report.signal) + detail);
    }
    foreignSignals_.push_back(info);
}

void Injection::unmap() {
    if (!mapping_.size) return;
    uint64_t instruction = codeWritten_ ? codeSyscall_ : syscallInstruction_;
    if (!instruction) throwFailure(where() + ": no syscall instruction left to remove the mapping with");
    int64_t result = runSyscall(instruction, SYS_munmap, {mapping_.address, mapping_.size, 0, 0, 0, 0});
    if (result != 0)
        throwErrno(where() + ": munmap " + hex(mapping_.address),
                   result < 0 && result > -4096 ? static_cast<int>(-result) : EINVAL);
    mapping_ = {};
}

void Injection::restoreThread() {
    sys::setRegisters(tid_, inject_arch::resumableRegisters(saved_));
    inject_arch::leaveSyscall(tid_);
    sys::setSignalMask(tid_, savedMask_);
    hijacked_ = false;
    for (const siginfo_t& info : foreignSignals_)
        if (int err = sys::requeueSignal(pid_, tid_, info))
            logError(where() + ": signal " + std::to_string(info.si_signo) +
                     " that arrived meanwhile is lost: " + std::strerror(err));
    foreignSignals_.clear();
}

// After a timeout the thread may be running injected code, or blocked in an injected syscall
// (a seccomp user-notification that never answers): interrupt it.
void Injection::bringToStop() {
    int err = sys::tryInterrupt(tid_);
    if (err && err != ESRCH) throwErrno(where() + ": interrupt", err);
    sys::ThreadReport report;
    sys::WaitOutcome outcome = sys::waitThread(tid_, report, deadline_);
    if (outcome == sys::WaitOutcome::nothingYet) throwFailure(where() + ": the thread does not stop");
    if (outcome == sys::WaitOutcome::notOurs || report.kind == sys::ThreadReport::Kind::exited) {
        gone_ = true;
        return;
    }
    inStop_ = true;
    if (report.kind == sys::ThreadReport::Kind::syscallStop) atSyscallEntry_ = !atSyscallEntry_;
    if (report.kind == sys::ThreadReport::Kind::signalStop) noteSignalStop(report, false);
}

// A failed injected syscall can leave a forced signal queued (seccomp's SECCOMP_RET_TRAP queues
// SIGSYS and skips the call). It must not reach the process: let the thread take it into a
// signal-delivery-stop, which the next resume suppresses. The kernel delivers a pending, unblocked
// signal before returning to user space, so no instruction runs.
void Injection::dropOwnPendingSignals() {
    for (int round = 0; round < 8; ++round) {
        uint64_t pending = 0;
        if (!sys::readThreadPendingSignals(pid_, tid_, pending) || !(pending & kOwnSignals)) return;
        sys::ThreadReport report = resumeAndWait(false);
        if (report.kind == sys::ThreadReport::Kind::signalStop) noteSignalStop(report, false);
    }
}

void Injection::rollBack() noexcept {
    if (gone_) return;
    try {
        deadline_ = std::chrono::steady_clock::now() + kRollbackTimeout;
        if (!inStop_) bringToStop();
        if (gone_) return;
        if (atSyscallEntry_) {
            deadline_ = std::chrono::steady_clock::now() + kRollbackTimeout;
            stepToSyscallStop();  // let the injected mmap/munmap finish rather than skip it half-way
            atSyscallEntry_ = false;
        }
        dropOwnPendingSignals();
        try {
            deadline_ = std::chrono::steady_clock::now() + kRollbackTimeout;
            unmap();
        } catch (const Error& error) {
            if (gone_ || !inStop_) throw;
            logWarning(std::string(error.what()) + "; the mapping stays");
        }
        unpatch();
        restoreThread();
    } catch (const std::exception& error) {
        if (gone_) return;
        logError(where() + ": cannot restore the thread (" + error.what() +
                 "); killing the process rather than letting it run on injected state");
        sys::killProcess(pid_, SIGKILL);
    }
}

}  // namespace

InjectionResult injectLockCalls(StoppedProcess& process, const std::vector<LockCall>& requests,
                                std::chrono::milliseconds timeout) {
    if (requests.empty()) return {};
    Injection injection(process.pid(), process.injectionThread(), timeout);
    return injection.run(requests);
}

void injectLockCallsTogether(std::vector<InjectionJob>& jobs, std::chrono::milliseconds timeout) {
    std::vector<std::unique_ptr<Injection>> running(jobs.size());
    for (size_t i = 0; i < jobs.size(); ++i) {
        InjectionJob& job = jobs[i];
        if (job.calls.empty()) continue;
        job.started = true;
        try {
            running[i] = std::make_unique<Injection>(job.process->pid(), job.process->injectionThread(), timeout);
            running[i]->start(job.calls);
        } catch (...) {
            job.failure = std::current_exception();
            running[i].reset();  // puts the thread back (or kills the process if it cannot)
            break;
        }
    }
    for (size_t i = 0; i < jobs.size(); ++i) {
        if (!running[i]) continue;
        try {
            jobs[i].result = running[i]->finish();
        } catch (...) {
            jobs[i].failure = std::current_exception();
        }
        running[i].reset();
    }
}

}  // namespace lockcr
