// A streaming JSON writer: text is appended as values are written, with no tree of nodes in
// between (a 20,000-lock image built as an nlohmann::json tree costs more than collecting it).
// It writes the lock image (image/json.cpp; read back by image/json_reader.cpp with simdjson, and
// tests round-trip one through the other) and the snapshot record (snapshot/record.cpp).
//
// An image is some 100,000 small values: the writer copies each piece into a buffer it grows
// itself, so that a piece is a bounds check and a copy the compiler sees the size of, not a call.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace lockcr {

class JsonWriter {
public:
    void beginObject() { open('{'); }
    // Opens an object with keys and values already written out, OPENING ("{\"kind\":\"posix\",...,
    // \"start\":"), ending in a key: its value is written next. For a prefix thousands of values
    // share (every lock of an image starts with its kind and type).
    void beginObjectWith(std::string_view opening) {
        separate();
        put(opening);
        first_ = true;  // the value follows with no comma
    }
    void endObject() { close('}'); }
    void beginArray() { open('['); }
    void endArray() { close(']'); }
    // Inside an object, before each value; NAME is plain ASCII.
    [[gnu::always_inline]] JsonWriter& key(std::string_view name) {
        char* out = room(name.size() + 4);
        if (!first_) *out++ = ',';
        *out++ = '"';
        std::memcpy(out, name.data(), name.size());  // lockcr's own field names: nothing to escape
        out += name.size();
        *out++ = '"';
        *out++ = ':';
        used_ = static_cast<size_t>(out - text_.data());
        first_ = true;  // the value follows with no comma
        return *this;
    }

    // Exact text: bytes that are not valid UTF-8 throw Error naming WHAT, e.g. "lock image: path"
    // (paths must survive).
    void exactString(std::string_view text, const char* what);
    // Text for people: bytes that are not valid UTF-8 become U+FFFD.
    void lossyString(std::string_view text);
    // lockcr's own words (names of kinds and types, device numbers, octal flags): printable ASCII
    // with no quote or backslash, written as they are.
    [[gnu::always_inline]] void plainString(std::string_view text) {
        char* out = room(text.size() + 3);
        if (!first_) *out++ = ',';
        *out++ = '"';
        std::memcpy(out, text.data(), text.size());
        out += text.size();
        *out++ = '"';
        used_ = static_cast<size_t>(out - text_.data());
        first_ = false;
    }
    void number(int64_t value);
    void unsignedNumber(uint64_t value);
    void boolean(bool value);
    void null();

    // A piece of a longer text that continues a list after a value (util/workers.h formats an image
    // in pieces): its first value is preceded by a comma.
    void continueAfterValue() { first_ = false; }

    void reserve(size_t bytes) { text_.reserve(bytes); }
    std::string take() {
        text_.resize(used_);
        used_ = 0;
        return std::move(text_);
    }

private:
    // At least N writable bytes at data() + used_.
    char* room(size_t bytes) {
        if (text_.size() - used_ < bytes) grow(bytes);
        return text_.data() + used_;
    }
    void grow(size_t bytes);
    void put(char c) {
        *room(1) = c;
        ++used_;
    }
    void put(std::string_view text) {
        std::memcpy(room(text.size()), text.data(), text.size());
        used_ += text.size();
    }
    // A comma goes before every value but the first of its object or array (or one after a key).
    // Only the innermost container matters: when it closes, its parent has had a value.
    void separate() {
        if (!first_) put(',');
        first_ = false;
    }
    void open(char bracket) {
        separate();
        put(bracket);
        first_ = true;
    }
    void close(char bracket) {
        put(bracket);
        first_ = false;
    }
    bool escape(std::string_view text, bool lossy);  // false: invalid UTF-8 met (exact mode)

    std::string text_;  // text_[0, used_) is written; the rest is room
    size_t used_ = 0;
    bool first_ = true;
};

}  // namespace lockcr
