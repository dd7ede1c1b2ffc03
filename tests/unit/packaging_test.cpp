// The policy file the package installs as an example (examples/lockcr.yaml when the wiring work
// provides it, else packaging/lockcr.yaml; packaging/install.cmake picks the same) parses, strictly,
// to the defaults it says it holds.
#include <doctest/doctest.h>

#include <unistd.h>

#include "config/config.h"
#include "util/sys.h"

using namespace lockcr;

TEST_CASE("the example lockcr.yaml the package installs holds the defaults") {
    std::string source = std::string(LOCKCR_SAMPLES) + "/../..";
    std::string path = source + "/examples/lockcr.yaml";
    if (::access(path.c_str(), R_OK) != 0) path = source + "/packaging/lockcr.yaml";
    CAPTURE(path);
    CHECK(parsePolicies(sys::readFile(path), path) == Policies{});
}
