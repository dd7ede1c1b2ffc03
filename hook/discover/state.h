// The container state a runtime hands to an OCI hook on stdin (runtime-spec runtime.md "State"),
// and the output of `runc state ID` / `crun state ID`, which adds rootfs, created and owner.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <string_view>

namespace lockcr {

struct OciState {
    std::string ociVersion;
    std::string id;
    std::string status;  // creating, created, running, stopped or paused
    std::string bundle;
    pid_t pid = 0;  // the container's init in the reader's pid namespace
    std::map<std::string, std::string> annotations;
    std::string rootfs;  // only in `runc state` output; empty otherwise
};

// Strict: ociVersion, id (non-empty), status, bundle and pid (1..4194304) are required with their
// types, annotations must map strings to strings; unknown fields are ignored. Texts over 1 MiB and
// malformed JSON are refused. Every failure is one Error(badInput) line naming the field.
// With StatePid::mayBeZero, "pid": 0 or no "pid" is accepted (a poststop hook's state: the init
// is gone; runc 1.1 leaves the field out).
enum class StatePid { required, mayBeZero };
OciState parseOciState(std::string_view text, StatePid pid = StatePid::required);

}  // namespace lockcr
