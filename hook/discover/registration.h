// What the OCI hook leaves for the CRIU actions of a container's checkpoint: CRIU gives an action
// only the init's pid, so the hook (createRuntime / poststart) registers the container's id,
// bundle, root and io.lockcr.* annotations under /run/lockcr/containers/<id>.json, and poststop
// removes it. runc runs poststop when it checkpoints: the checkpoint side reads the registration at
// post-dump, before that, and copies what the restore needs into the image directory.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>

namespace lockcr {

struct Registration {
    std::string id;
    pid_t pid = 0;  // the init's host pid when registered
    std::string bundle;
    std::map<std::string, std::string> annotations;  // io.lockcr.* only
    std::string stage;                               // the hook stage that wrote it
};

// Container ids become file names: [A-Za-z0-9][A-Za-z0-9_.+-]* up to 1024 bytes (runc's own rule
// is narrower). Anything else throws badInput.
void checkContainerId(const std::string& id);

void writeRegistration(const Registration& registration);
// Idempotent: removing a container that has no registration is not an error.
void removeRegistration(const std::string& id);
// The registration whose pid is PID (nullopt if none, or none is readable).
std::optional<Registration> registrationOfPid(pid_t pid);

std::string registrationToText(const Registration& registration);
Registration registrationFromText(const std::string& text, const std::string& source);

}  // namespace lockcr
