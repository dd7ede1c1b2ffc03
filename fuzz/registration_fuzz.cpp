// The registration the OCI hook leaves under /run/lockcr/containers (hook/discover/registration.cpp).
// Property: an accepted registration round-trips, and its id is a safe file name.
#include "discover/registration.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace lockcr;
    fuzz::expectOnlyLockcrErrors([&] {
        Registration registration = registrationFromText(std::string(fuzz::textOf(data, size)), "fuzz");
        fuzz::require(
            registration.id.find('/') == std::string::npos && registration.id != "." && registration.id != "..",
            "registration: the id is a file name");
        fuzz::require(registration.pid >= 1 && registration.pid <= 4194304, "registration: a pid in range");
        std::string written = registrationToText(registration);
        fuzz::require(registrationToText(registrationFromText(written, "fuzz")) == written,
                      "registration: write(read(write(registration))) == write(registration)");
    });
    fuzz::expectOnlyLockcrErrors([&] { checkContainerId(std::string(fuzz::textOf(data, size))); });
    return 0;
}
