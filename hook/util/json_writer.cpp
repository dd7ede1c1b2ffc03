#include "util/json_writer.h"

#include <charconv>

#include "util/error.h"

namespace lockcr {

namespace {

// Length of the valid UTF-8 sequence starting at text[i], 0 if it is not one (RFC 3629: no
// overlongs, no surrogates, nothing above U+10FFFF).
size_t utf8SequenceLength(std::string_view text, size_t i) {
    auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
    unsigned char lead = byte(i);
    size_t length = lead < 0xC2 ? 0 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : lead < 0xF5 ? 4 : 0;
    if (length == 0 || i + length > text.size()) return 0;
    for (size_t k = 1; k < length; ++k)
        if ((byte(i + k) & 0xC0) != 0x80) return 0;
    if (lead == 0xE0 && byte(i + 1) < 0xA0) return 0;  // overlong
    if (lead == 0xED && byte(i + 1) > 0x9F) return 0;  // surrogate
    if (lead == 0xF0 && byte(i + 1) < 0x90) return 0;  // overlong
    if (lead == 0xF4 && byte(i + 1) > 0x8F) return 0;  // above U+10FFFF
    return length;
}

}  // namespace

void JsonWriter::grow(size_t bytes) {
    // 64 KiB ahead at a time: resize() zeroes what it adds, so memory is touched about as the text
    // reaches it, not up to a generous reservation. Beyond the capacity, std::string doubles it.
    text_.resize(used_ + bytes + 65536);
}

bool JsonWriter::escape(std::string_view text, bool lossy) {
    static const char hex[] = "0123456789abcdef";
    auto plain = [](unsigned char c) { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\'; };
    for (size_t i = 0; i < text.size();) {
        size_t run = i;
        while (run < text.size() && plain(static_cast<unsigned char>(text[run]))) ++run;
        put(text.substr(i, run - i));  // the common case: a whole path at once
        i = run;
        if (i == text.size()) break;
        unsigned char c = static_cast<unsigned char>(text[i]);
        if (c >= 0x80) {
            size_t length = utf8SequenceLength(text, i);
            if (length == 0) {
                if (!lossy) return false;
                put("\xEF\xBF\xBD");
                ++i;
                continue;
            }
            put(text.substr(i, length));
            i += length;
            continue;
        }
        if (c == '"' || c == '\\') {
            put('\\');
            put(static_cast<char>(c));
        } else if (c < 0x20) {
            put("\\u00");
            put(hex[c >> 4]);
            put(hex[c & 15]);
        } else {
            put(static_cast<char>(c));
        }
        ++i;
    }
    return true;
}

void JsonWriter::exactString(std::string_view text, const char* what) {
    separate();
    put('"');
    if (!escape(text, false))
        throwFailure(std::string(what) + " \"" + std::string(text) +
                     "\" is not valid UTF-8 and cannot be recorded in JSON");
    put('"');
}

void JsonWriter::lossyString(std::string_view text) {
    separate();
    put('"');
    escape(text, true);
    put('"');
}

void JsonWriter::number(int64_t value) {
    separate();
    char* out = room(24);
    used_ = static_cast<size_t>(std::to_chars(out, out + 24, value).ptr - text_.data());
}

void JsonWriter::unsignedNumber(uint64_t value) {
    separate();
    char* out = room(24);
    used_ = static_cast<size_t>(std::to_chars(out, out + 24, value).ptr - text_.data());
}

void JsonWriter::boolean(bool value) {
    separate();
    put(value ? std::string_view("true") : std::string_view("false"));
}

void JsonWriter::null() {
    separate();
    put(std::string_view("null"));
}

}  // namespace lockcr
