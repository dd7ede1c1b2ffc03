// Text helpers every /proc parser shares: strict numbers and safe quoting of hostile input.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lockcr {

// The whole of `text` as a number in `base`: digits only (no sign, no space, no "0x"), at most
// `maximum` (the range of the caller's type: INT_MAX for a pid or an fd); nullopt otherwise. The
// one number parser: every parser of kernel text, images and options goes through it.
// Numbers short enough that they cannot overflow 64 bits (19 decimal digits, 21 octal, 15 hex)
// are read inline: a lock line has seven numbers, and a 20,000-lock container 20,000 lines.
std::optional<uint64_t> parseUnsignedNumberSlowly(std::string_view text, int base, uint64_t maximum);
inline std::optional<uint64_t> parseUnsignedNumber(std::string_view text, int base = 10,
                                                   uint64_t maximum = UINT64_MAX) {
    size_t safeDigits = base == 10 ? 19 : base == 16 ? 15 : base == 8 ? 21 : 0;
    if (text.empty() || text.size() > safeDigits) return parseUnsignedNumberSlowly(text, base, maximum);
    uint64_t value = 0;
    for (char c : text) {
        unsigned digit = static_cast<unsigned char>(c) - unsigned{'0'};
        if (digit > 9) {
            unsigned lower = static_cast<unsigned char>(c | 0x20) - unsigned{'a'};
            digit = lower < 6 ? lower + 10 : 99;
        }
        if (digit >= static_cast<unsigned>(base)) return std::nullopt;
        value = value * static_cast<unsigned>(base) + digit;
    }
    if (value > maximum) return std::nullopt;
    return value;
}

// `text` in double quotes for an error message: at most 80 bytes, bytes outside printable ASCII
// as \xNN, so hostile input can neither flood nor forge a log line.
std::string quotedForMessage(std::string_view text);

}  // namespace lockcr
