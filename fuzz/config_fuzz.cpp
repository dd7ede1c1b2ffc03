// The config file (hook/config/config.cpp, yaml-cpp) and the io.lockcr.* annotations over it.
// Property: accepted policies survive the JSON they travel in with a checkpoint.
#include <nlohmann/json.hpp>

#include "config/config.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace lockcr;
    std::string_view text = fuzz::textOf(data, size);
    fuzz::expectOnlyLockcrErrors([&] {
        Policies policies = parsePolicies(text, "fuzz");
        fuzz::require(policiesFromJson(policiesToJson(policies), "fuzz") == policies,
                      "config: policies round-trip through their JSON");
    });
    // The same bytes as one annotation: "KEY=VALUE" on its first line.
    std::string_view line = text.substr(0, text.find('\n'));
    size_t equals = line.find('=');
    if (equals != std::string_view::npos)
        fuzz::expectOnlyLockcrErrors([&] {
            applyAnnotations({}, {{std::string(kAnnotationPrefix) + std::string(line.substr(0, equals)),
                                   std::string(line.substr(equals + 1))}});
        });
    return 0;
}
