// util/text: the one number parser (short numbers read inline, long ones by std::from_chars) and
// the quoting of hostile text in messages.
#include <doctest/doctest.h>

#include <charconv>
#include <random>
#include <string>

#include "util/text.h"

using namespace lockcr;

namespace {

// What std::from_chars says of the whole of TEXT, the reference the inline reading must agree with.
std::optional<uint64_t> byFromChars(std::string_view text, int base, uint64_t maximum) {
    uint64_t value = 0;
    if (text.empty()) return std::nullopt;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value, base);
    if (error != std::errc() || end != text.data() + text.size() || value > maximum) return std::nullopt;
    return value;
}

}  // namespace

TEST_CASE("numbers in bases 8, 10 and 16, digits only, up to the maximum") {
    CHECK(parseUnsignedNumber("0") == 0u);
    CHECK(parseUnsignedNumber("4194304") == 4194304u);
    CHECK(parseUnsignedNumber("02100002", 8) == 02100002u);
    CHECK(parseUnsignedNumber("fe", 16) == 0xfeu);
    CHECK(parseUnsignedNumber("FE", 16) == 0xfeu);  // as std::from_chars reads it
    CHECK(parseUnsignedNumber("18446744073709551615") == UINT64_MAX);
    CHECK(parseUnsignedNumber("ffffffffffffffff", 16) == UINT64_MAX);
    CHECK(parseUnsignedNumber("2147483647", 10, 2147483647) == 2147483647u);
    CHECK_FALSE(parseUnsignedNumber("2147483648", 10, 2147483647));
    for (const char* bad : {"", "-1", "+1", " 1", "1 ", "0x10", "1e3", "12a", "9999999999999999999999"})
        CHECK_MESSAGE(!parseUnsignedNumber(bad), bad);
    CHECK_FALSE(parseUnsignedNumber("18446744073709551616"));  // 2^64: one past the end
    CHECK_FALSE(parseUnsignedNumber("8", 8));
    CHECK_FALSE(parseUnsignedNumber("g", 16));
    CHECK_FALSE(parseUnsignedNumber("10000000000000000", 16));  // 17 hex digits: 2^64
}

TEST_CASE("the inline reading agrees with std::from_chars on every length and every byte") {
    std::mt19937 random(20261207);
    const std::string alphabet = "0123456789abcdefABCDEFgxG-+ \t/:@`\x7f\xff";
    for (int base : {8, 10, 16}) {
        for (int round = 0; round < 20000; ++round) {
            std::string text(random() % 24, '0');
            for (char& c : text)
                c = random() % 8 ? "0123456789abcdef"[random() % 16] : alphabet[random() % alphabet.size()];
            uint64_t maximum = random() % 4 ? UINT64_MAX : random();
            CHECK_MESSAGE(parseUnsignedNumber(text, base, maximum) == byFromChars(text, base, maximum), "base ", base,
                          " \"", text, "\"");
        }
    }
}
