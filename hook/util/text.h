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
std::optional<uint64_t> parseUnsignedNumber(std::string_view text, int base = 10, uint64_t maximum = UINT64_MAX);
// `text` in double quotes for an error message: at most 80 bytes, bytes outside printable ASCII
// as \xNN, so hostile input can neither flood nor forge a log line.
std::string quotedForMessage(std::string_view text);

}  // namespace lockcr
