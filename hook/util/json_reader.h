// Strict reading of JSON documents written by lockcr (the lock image, the snapshot record):
// simdjson's DOM parses the text in place, then the caller walks it with ObjectReader, which
// refuses what the schemas refuse (unknown or repeated fields, wrong types, numbers out of range)
// and names where: "processes[2].fds[0].locks[1].end: expected integer or \"EOF\"".
#pragma once

#include <simdjson.h>

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "util/error.h"

namespace lockcr::jsonread {

using Element = simdjson::dom::element;

const char* typeName(Element value);
// A value or a string from the document for an error message: JSON text, cut short, never throwing.
std::string shown(Element value);
std::string shown(std::string_view text);
bool isInteger(Element value);
bool isNonNegativeInteger(Element value);

// Where a value is in the document, for error messages: "processes[2].fds[0].locks[1].end".
// A place is a link to its parent plus one step, so walking a large document builds no text;
// the text is made only to reject. A place must not outlive its parent: keep them on the stack.
class Place {
public:
    Place() = default;
    Place field(const char* name) const { return Place(this, name, 0); }
    Place index(size_t i) const { return Place(this, nullptr, i); }
    [[noreturn]] void reject(const std::string& why) const;

private:
    Place(const Place* parent, const char* name, size_t index) : parent_(parent), name_(name), index_(index) {}
    std::string text() const;

    const Place* parent_ = nullptr;
    const char* name_ = nullptr;  // a field, or nullptr for an array index
    size_t index_ = 0;
};

// One JSON object whose fields are all known: unknown ones are refused like a schema's
// additionalProperties: false, and so is a field given twice (which one would count?).
class ObjectReader {
public:
    ObjectReader(const ObjectReader&) = delete;  // places made by place() point into this one
    ObjectReader& operator=(const ObjectReader&) = delete;

    // Up to 16 FIELDS; the literals given are the names later passed to the reads.
    ObjectReader(Element value, Place place, std::initializer_list<const char*> fields);

    Place place(const char* name) const { return place_.field(name); }
    bool has(const char* name) const { return present_ & (uint32_t{1} << indexOf(name)); }
    Element at(const char* name) const;
    std::string string(const char* name) const { return std::string(text(name)); }
    std::string_view text(const char* name) const;  // a view into the document
    bool boolean(const char* name) const;
    int64_t integer(const char* name, int64_t minimum, int64_t maximum) const;
    uint64_t unsignedInteger(const char* name) const;
    simdjson::dom::array array(const char* name) const;
    // A name parsed by one of the fromString functions (which throw Error), or the field is refused.
    template <typename Parse>
    auto name(const char* field, Parse parse) const {
        std::string_view name = text(field);
        try {
            return parse(name);
        } catch (const Error& error) {
            place(field).reject(error.what());
        }
    }

private:
    size_t indexOf(const char* name) const;

    std::array<const char*, 16> names_{};
    std::array<Element, 16> values_{};
    size_t count_ = 0;
    uint32_t present_ = 0;
    Place place_;
};

// simdjson's array size saturates at 0xFFFFFF elements: beyond, they are counted.
size_t elementCount(simdjson::dom::array array);

// TEXT parsed with PARSER where it lies when SPARE bytes follow it (simdjson reads up to
// SIMDJSON_PADDING bytes past the end), else from a padded copy. Not JSON: Error(badInput)
// "malformed JSON: parse error at line L, column C: ...".
Element parseDocument(simdjson::dom::parser& parser, std::string_view text, size_t spare);

}  // namespace lockcr::jsonread
