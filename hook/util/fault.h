// Fault injection for tests, after CRIU's CRIU_FAULT: LOCKCR_FAULT=NAME makes lockcr kill itself
// with SIGKILL when it reaches the point NAME, so a test can check what a real crash there leaves
// behind (the container never runs without its locks); LOCKCR_FAULT=NAME:pause makes it sleep 3 s
// there instead; LOCKCR_FAULT=NAME:stop makes it stop itself (SIGSTOP) there, so a test that waits
// for the stop (waitpid WUNTRACED) changes the world at exactly that moment -- a target exits,
// forks or execs -- and then lets it go on with SIGCONT. Points:
//   collect-listed   collection (inspect, dump, the CRIU post-dump, replay's looks): every task's
//                    fds are listed, no fdinfo read yet
//   barrier-holding  replay: the container was listed and still runs; the barrier is next
//   barrier-held     replay: the container is frozen (or every process seized), its task list
//                    final; nothing read or set yet
//   barrier-thawed   replay: the container was thawed, its tasks wait in ptrace stops
//   post-restore     the CRIU action: the outside-holder check at post-restore has passed
#pragma once

namespace lockcr {

void faultPoint(const char* name);

}  // namespace lockcr
