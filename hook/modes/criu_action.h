// The CRIU action-script face: `action-script /usr/sbin/lockcr` in a CRIU config file (runc.conf,
// crun.conf, or the file an org.criu.config annotation names). CRIU runs it at every stage of a
// checkpoint and a restore with CRTOOLS_SCRIPT_ACTION set and no arguments (criu/environment.h).
#pragma once

namespace lockcr {

// Runs the action CRIU named; an action lockcr does not use (or one a newer CRIU adds) exits 0.
int runCriuAction(const char* action);

}  // namespace lockcr
