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

void JsonWriter::separate() {
    if (afterKey_) {
        afterKey_ = false;
        return;
    }
    if (!needComma_.empty()) {
        if (needComma_.back()) text_ += ',';
        needComma_.back() = true;
    }
}

void JsonWriter::beginObject() {
    separate();
    text_ += '{';
    needComma_.push_back(false);
}

void JsonWriter::endObject() {
    text_ += '}';
    needComma_.pop_back();
}

void JsonWriter::beginArray() {
    separate();
    text_ += '[';
    needComma_.push_back(false);
}

void JsonWriter::endArray() {
    text_ += ']';
    needComma_.pop_back();
}

JsonWriter& JsonWriter::key(std::string_view name) {
    separate();
    text_ += '"';
    text_.append(name);  // lockcr's own field names: plain ASCII, nothing to escape
    text_ += "\":";
    afterKey_ = true;
    return *this;
}

bool JsonWriter::escape(std::string_view text, bool lossy) {
    static const char hex[] = "0123456789abcdef";
    auto plain = [](unsigned char c) { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\'; };
    for (size_t i = 0; i < text.size();) {
        size_t run = i;
        while (run < text.size() && plain(static_cast<unsigned char>(text[run]))) ++run;
        text_.append(text.substr(i, run - i));  // the common case: a whole path at once
        i = run;
        if (i == text.size()) break;
        unsigned char c = static_cast<unsigned char>(text[i]);
        if (c >= 0x80) {
            size_t length = utf8SequenceLength(text, i);
            if (length == 0) {
                if (!lossy) return false;
                text_ += "\xEF\xBF\xBD";
                ++i;
                continue;
            }
            text_.append(text.substr(i, length));
            i += length;
            continue;
        }
        if (c == '"' || c == '\\') {
            text_ += '\\';
            text_ += static_cast<char>(c);
        } else if (c < 0x20) {
            text_ += "\\u00";
            text_ += hex[c >> 4];
            text_ += hex[c & 15];
        } else {
            text_ += static_cast<char>(c);
        }
        ++i;
    }
    return true;
}

void JsonWriter::exactString(std::string_view text, const char* what) {
    separate();
    text_ += '"';
    if (!escape(text, false))
        throwFailure(std::string(what) + " \"" + std::string(text) +
                     "\" is not valid UTF-8 and cannot be recorded in JSON");
    text_ += '"';
}

void JsonWriter::lossyString(std::string_view text) {
    separate();
    text_ += '"';
    escape(text, true);
    text_ += '"';
}

void JsonWriter::number(int64_t value) {
    separate();
    char buffer[24];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
    text_.append(buffer, end);
}

void JsonWriter::unsignedNumber(uint64_t value) {
    separate();
    char buffer[24];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
    text_.append(buffer, end);
}

void JsonWriter::boolean(bool value) {
    separate();
    text_ += value ? "true" : "false";
}

void JsonWriter::null() {
    separate();
    text_ += "null";
}

}  // namespace lockcr
