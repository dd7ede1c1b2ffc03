// What every fuzz target shares. A parser may refuse its input only with lockcr::Error (the mode
// boundary in main.cpp prints it as one line and exits 2); any other exception escaping a parser
// (nlohmann::json, YAML::Exception, std::out_of_range...) becomes "internal error", skips the
// CRIU action's own error handling, and is a finding: the target aborts on it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string_view>

#include "util/error.h"

namespace lockcr::fuzz {

inline std::string_view textOf(const uint8_t* data, size_t size) { return {reinterpret_cast<const char*>(data), size}; }

// A property every accepted input must keep (a round trip, a bound): abort, so libFuzzer saves it.
inline void require(bool holds, const char* property) {
    if (holds) return;
    std::fprintf(stderr, "fuzz: property violated: %s\n", property);
    std::abort();
}

// Runs PARSE; lockcr::Error is the expected refusal, anything else aborts with its message.
template <typename Parse>
void expectOnlyLockcrErrors(Parse parse) {
    try {
        parse();
    } catch (const Error&) {
    } catch (const std::exception& error) {
        std::fprintf(stderr, "fuzz: parser let a non-lockcr exception out: %s\n", error.what());
        std::abort();
    }
}

}  // namespace lockcr::fuzz
