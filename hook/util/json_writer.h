// A streaming JSON writer: text is appended as values are written, with no tree of nodes in
// between (a 20,000-lock image built as an nlohmann::json tree costs more than collecting it).
// It writes the lock image (image/json.cpp; read back by image/json_reader.cpp with simdjson, and
// tests round-trip one through the other) and the snapshot record (snapshot/record.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lockcr {

class JsonWriter {
public:
    void beginObject();
    void endObject();
    void beginArray();
    void endArray();
    JsonWriter& key(std::string_view name);  // inside an object, before each value; NAME is plain ASCII

    // Exact text: bytes that are not valid UTF-8 throw Error naming WHAT, e.g. "lock image: path"
    // (paths must survive).
    void exactString(std::string_view text, const char* what);
    // Text for people: bytes that are not valid UTF-8 become U+FFFD.
    void lossyString(std::string_view text);
    void number(int64_t value);
    void unsignedNumber(uint64_t value);
    void boolean(bool value);
    void null();

    void reserve(size_t bytes) { text_.reserve(bytes); }
    std::string take() { return std::move(text_); }

private:
    void separate();
    bool escape(std::string_view text, bool lossy);  // false: invalid UTF-8 met (exact mode)

    std::string text_;
    std::vector<bool> needComma_;  // per open container
    bool afterKey_ = false;
};

}  // namespace lockcr
