#include "util/text.h"

#include <charconv>

namespace lockcr {

std::optional<uint64_t> parseUnsignedNumberSlowly(std::string_view text, int base, uint64_t maximum) {
    uint64_t value = 0;
    if (text.empty()) return std::nullopt;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value, base);
    if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
    if (value > maximum) return std::nullopt;
    return value;
}

std::string quotedForMessage(std::string_view text) {
    constexpr size_t kShown = 80;
    std::string out = "\"";
    for (unsigned char c : text.substr(0, kShown)) {
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            out += static_cast<char>(c);
        } else {
            static const char digits[] = "0123456789abcdef";
            out += "\\x";
            out += digits[c >> 4];
            out += digits[c & 15];
        }
    }
    out += '"';
    if (text.size() > kShown) out += "... (" + std::to_string(text.size()) + " bytes)";
    return out;
}

}  // namespace lockcr
