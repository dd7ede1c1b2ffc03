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
// Decimal numbers of up to 19 digits (they cannot overflow) are read inline: a lock line has five,
// and a 20,000-lock container has 20,000 lines.
std::optional<uint64_t> parseUnsignedNumberSlowly(std::string_view text, int base, uint64_t maximum);
inline std::optional<uint64_t> parseUnsignedNumber(std::string_view text, int base = 10,
                                                   uint64_t maximum = UINT64_MAX) {
    if (base != 10 || text.empty() || text.size() >= 20) return parseUnsignedNumberSlowly(text, base, maximum);
    uint64_t value = 0;
    for (char c : text) {
        unsigned digit = static_cast<unsigned char>(c) - unsigned{'0'};
        if (digit > 9) return std::nullopt;
        value = value * 10 + digit;
    }
    if (value > maximum) return std::nullopt;
    return value;
}
// `text` in double quotes for an error message: at most 80 bytes, bytes outside printable ASCII
// as \xNN, so hostile input can neither flood nor forge a log line.
std::string quotedForMessage(std::string_view text);

}  // namespace lockcr
