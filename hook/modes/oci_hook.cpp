// What the OCI hook does: at createRuntime, createContainer, startContainer, prestart or poststart
// it registers the container (discover/registration.h) so that the CRIU actions of its checkpoint,
// which only get the init's pid, know its id and io.lockcr.* policies; at poststop it removes the
// registration. Which stage runs it is the runtime's configuration (hooks.d "stages").
//
// A failure of a create-time hook stops the container from starting (the runtime-spec makes it an
// error of create/start): lockcr fails only where the container asked for something it cannot
// honour -- an io.lockcr.* annotation with an unknown key or bad value, or a registration it
// cannot write -- because starting it anyway would checkpoint it later without the policies it
// asked for. poststop never fails (the runtime only logs poststop errors, and the container is
// gone either way).
#include "modes/oci_hook.h"

#include <linux/capability.h>
#include <unistd.h>

#include <cstring>
#include <set>
#include <string>

#include "config/config.h"
#include "discover/registration.h"
#include "discover/state.h"
#include "util/capabilities.h"
#include "util/error.h"
#include "util/log.h"
#include "util/sys.h"

namespace lockcr {

int runOciHook(int argc, char** argv) {
    configureLog({true, "", true, false});
    if (argc != 2) throwBadInput("oci-hook: usage: lockcr oci-hook STAGE (the OCI state JSON on stdin)");
    const std::string stage = argv[1];
    static const std::set<std::string> registering = {"prestart", "createRuntime", "createContainer", "startContainer",
                                                      "poststart"};
    if (!registering.contains(stage) && stage != "poststop")
        throwBadInput("oci-hook: unknown stage " + stage +
                      " (prestart, createRuntime, createContainer, startContainer, poststart, poststop)");
    Policies hostPolicies = readPolicies(configPath());
    configureLog({true, hostPolicies.logFile, hostPolicies.syslog, false});
    keepOnlyCapabilities({CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH});
    constexpr size_t kLimit = 1 << 20;
    std::string text = sys::readAll(STDIN_FILENO, "oci-hook: standard input", kLimit);
    OciState state;
    try {
        state = parseOciState(text, stage == "poststop" ? StatePid::mayBeZero : StatePid::required);
    } catch (const Error& error) {
        throw error.within("oci-hook " + stage);
    }
    if (stage == "poststop") {
        try {
            removeRegistration(state.id);
        } catch (const Error& error) {
            logWarning("oci-hook poststop: container " + state.id + ": " + error.what());
        }
        return 0;
    }
    Registration registration;
    registration.id = state.id;
    registration.pid = state.pid;
    registration.bundle = state.bundle;
    registration.stage = stage;
    for (const auto& [name, value] : state.annotations)
        if (name.starts_with(kAnnotationPrefix)) registration.annotations[name] = value;
    try {
        applyAnnotations(hostPolicies, registration.annotations);  // refuse what a checkpoint could not honour
        writeRegistration(registration);
    } catch (const Error& error) {
        throw error.within("oci-hook " + stage + ": container " + state.id);
    }
    logInfo("oci-hook " + stage + ": registered container " + state.id + " (pid " + std::to_string(state.pid) + ")");
    return 0;
}

}  // namespace lockcr
