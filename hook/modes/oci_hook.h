// The OCI runtime hook face: `lockcr oci-hook STAGE` with the runtime-spec state JSON on stdin
// (config.json "hooks", or a podman/CRI-O hooks.d file: examples/).
#pragma once

namespace lockcr {

// ARGV[0] is "oci-hook", ARGV[1] the stage.
int runOciHook(int argc, char** argv);

}  // namespace lockcr
