// The command-line face: `lockcr COMMAND ...` for people (inspect, dump, replay, verify, precheck).
#pragma once

namespace lockcr {

int runCommandLine(int argc, char** argv);

}  // namespace lockcr
