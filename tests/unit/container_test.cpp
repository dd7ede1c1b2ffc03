// discover/container: the pure part of mapping a process group between pid namespaces.
#include <doctest/doctest.h>

#include "discover/container.h"

using namespace lockcr;

TEST_CASE("a process group maps through any member's NSpgid, in both directions, at any depth") {
    // Two members of host group 900 (container group 7, its leader gone), one member of a group
    // started outside the container (0 inside), one of host group 950 (container group 12).
    std::vector<std::vector<pid_t>> members{{950, 40, 12}, {900, 31, 7}, {800, 25, 0}, {900, 31, 7}};
    CHECK(mapProcessGroup(members, 0, 2, 900) == 7);
    CHECK(mapProcessGroup(members, 2, 0, 7) == 900);
    CHECK(mapProcessGroup(members, 2, 0, 12) == 950);
    CHECK(mapProcessGroup(members, 1, 2, 40) == 12);
    CHECK(mapProcessGroup(members, 0, 2, 800) == 0);  // not visible in the container
    CHECK(mapProcessGroup(members, 2, 0, 0) == 0);    // "not visible" is no group
    CHECK(mapProcessGroup(members, 2, 0, 99) == 0);   // no member
    CHECK(mapProcessGroup(members, 0, 3, 900) == 0);  // deeper than any member
    CHECK(mapProcessGroup({}, 0, 0, 900) == 0);
}
