// The line loop every /proc parser shares: each line must end in a newline (a last line without
// one means a truncated read), and an error from a line is prefixed with where it was:
// "/proc/locks line 12: ...".
#pragma once

#include <string>
#include <string_view>

#include "util/error.h"

namespace lockcr {

template <typename ParseLine>
void forEachLine(std::string_view text, const char* fileName, ParseLine parseLine) {
    size_t lineNumber = 0;
    for (size_t position = 0; position < text.size();) {
        ++lineNumber;
        size_t newline = text.find('\n', position);
        try {
            if (newline == std::string_view::npos) throwBadInput("no newline at the end (truncated read?)");
            parseLine(text.substr(position, newline - position));
        } catch (const Error& error) {
            throw error.within(std::string(fileName) + " line " + std::to_string(lineNumber));
        }
        position = newline + 1;
    }
}

}  // namespace lockcr
