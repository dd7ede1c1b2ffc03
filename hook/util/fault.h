// Fault injection for tests, after CRIU's CRIU_FAULT: LOCKCR_FAULT=NAME makes lockcr kill itself
// with SIGKILL when it reaches the point NAME, so a test can check what a real crash there leaves
// behind (the container never runs without its locks). Points:
//   barrier-thawed   replay: the container was thawed, its tasks wait in ptrace stops
#pragma once

namespace lockcr {

void faultPoint(const char* name);

}  // namespace lockcr
