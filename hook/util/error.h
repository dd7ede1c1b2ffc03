// One error type for the whole binary: a message that says what failed, on which object and why,
// the errno if a syscall was the cause, and the exit status it maps to. Functions throw it; the mode
// boundary in main.cpp is the single place that prints it (crun's libcrun_error_t, as an exception).
#pragma once

#include <cerrno>
#include <stdexcept>
#include <string>

namespace lockcr {

enum class ExitStatus : int { ok = 0, failure = 1, badInput = 2 };

class Error : public std::runtime_error {
public:
    explicit Error(const std::string& message, int errnoValue = 0, ExitStatus status = ExitStatus::failure)
            : std::runtime_error(message), errnoValue_(errnoValue), status_(status) {}

    int errnoValue() const { return errnoValue_; }
    ExitStatus status() const { return status_; }

    // The same error with more context in front: "replay: pid 42: " + what().
    Error within(const std::string& context) const { return Error(context + ": " + what(), errnoValue_, status_); }

private:
    int errnoValue_;
    ExitStatus status_;
};

// "what: strerror(errnoValue)", exit 1.
[[noreturn]] void throwErrno(const std::string& what, int errnoValue = errno);
// A failure that is not a syscall's: exit 1.
[[noreturn]] void throwFailure(const std::string& what);
// Bad input from the user or the runtime (arguments, state JSON, image): exit 2.
[[noreturn]] void throwBadInput(const std::string& what);

}  // namespace lockcr
