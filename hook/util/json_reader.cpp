#include "util/json_reader.h"

#include <cstring>
#include <nlohmann/json.hpp>

namespace lockcr::jsonread {

namespace {

std::string cut(std::string text) { return text.size() > 60 ? text.substr(0, 60) + "..." : text; }

// KEY == NAME, stopping at the first difference (no strlen of NAME for every key read).
bool sameName(std::string_view key, const char* name) {
    for (char c : key) {
        if (*name == 0 || *name != c) return false;  // a key with a NUL in it never reads past NAME
        ++name;
    }
    return *name == 0;
}

// Why TEXT is not JSON. simdjson's codes name no position, so the message comes from nlohmann's
// parser ("parse error at line 3, column 7: ..."); this runs only on the failure path.
std::string whyMalformed(std::string_view text, simdjson::error_code code) {
    try {
        nlohmann::json parsed = nlohmann::json::parse(text);
        (void)parsed;
    } catch (const nlohmann::json::exception& error) {
        std::string what = error.what();
        size_t tagEnd = what.find("] ");  // without the "[json.exception.parse_error.101] " tag
        return tagEnd == std::string::npos ? what : what.substr(tagEnd + 2);
    }
    return simdjson::error_message(code);
}

}  // namespace

const char* typeName(Element value) {
    switch (value.type()) {
        case simdjson::dom::element_type::ARRAY: return "array";
        case simdjson::dom::element_type::OBJECT: return "object";
        case simdjson::dom::element_type::INT64:
        case simdjson::dom::element_type::UINT64:
        case simdjson::dom::element_type::DOUBLE: return "number";
        case simdjson::dom::element_type::STRING: return "string";
        case simdjson::dom::element_type::BOOL: return "boolean";
        case simdjson::dom::element_type::NULL_VALUE: return "null";
    }
    return "value";
}

std::string shown(Element value) { return cut(simdjson::minify(value)); }
std::string shown(std::string_view text) {
    return cut(nlohmann::json(std::string(text)).dump(-1, ' ', true, nlohmann::json::error_handler_t::replace));
}

bool isInteger(Element value) { return value.is_int64() || value.is_uint64(); }
bool isNonNegativeInteger(Element value) {
    return value.is_uint64() || (value.is_int64() && value.get_int64().value_unsafe() >= 0);
}

void Place::reject(const std::string& why) const {
    std::string text = this->text();
    throwBadInput((text.empty() ? std::string("top level") : text) + ": " + why);
}

std::string Place::text() const {
    if (!parent_) return "";
    std::string before = parent_->text();
    if (!name_) return before + "[" + std::to_string(index_) + "]";
    return before.empty() ? name_ : before + "." + name_;
}

ObjectReader::ObjectReader(Element value, Place place, std::initializer_list<const char*> fields)
        : place_(std::move(place)) {
    if (!value.is_object()) place_.reject(std::string("expected object, got ") + typeName(value));
    if (fields.size() > names_.size()) throwFailure("JSON reader: an object with too many fields");
    std::copy(fields.begin(), fields.end(), names_.begin());
    count_ = fields.size();
    // One pass over the object puts each value at its field's index: the reads that follow
    // look up nothing in the document. Each known field at most once: a bit per index.
    // lockcr writes the fields in the order its readers list them: the search starts after the
    // field found last, so each key is compared once (an image has some 100,000 of them).
    simdjson::dom::object object = value.get_object().value_unsafe();
    size_t expected = 0;
    for (simdjson::dom::key_value_pair field : object) {
        size_t known = count_;
        for (size_t tried = 0; tried < count_; ++tried) {
            size_t candidate = (expected + tried) % count_;
            if (sameName(field.key, names_[candidate])) {
                known = candidate;
                break;
            }
        }
        if (known == count_) place_.reject("unknown field " + shown(field.key));
        expected = known + 1;
        if (present_ & (uint32_t{1} << known)) place_.reject("field " + shown(field.key) + " appears twice");
        present_ |= uint32_t{1} << known;
        values_[known] = field.value;
    }
}

Element ObjectReader::at(const char* name) const {
    size_t index = indexOf(name);
    if (!(present_ & (uint32_t{1} << index))) place(name).reject("missing");
    return values_[index];
}

std::string_view ObjectReader::text(const char* name) const {
    Element value = at(name);
    if (!value.is_string()) place(name).reject(std::string("expected string, got ") + typeName(value));
    return value.get_string().value_unsafe();
}

bool ObjectReader::boolean(const char* name) const {
    Element value = at(name);
    if (!value.is_bool()) place(name).reject(std::string("expected boolean, got ") + typeName(value));
    return value.get_bool().value_unsafe();
}

int64_t ObjectReader::integer(const char* name, int64_t minimum, int64_t maximum) const {
    Element value = at(name);
    if (!isInteger(value)) place(name).reject(std::string("expected integer, got ") + typeName(value));
    // A uint64 is above INT64_MAX, so above every maximum.
    int64_t number = value.is_int64() ? value.get_int64().value_unsafe() : 0;
    if (!value.is_int64() || number < minimum || number > maximum)
        place(name).reject("expected integer in " + std::to_string(minimum) + ".." + std::to_string(maximum) +
                           ", got " + shown(value));
    return number;
}

uint64_t ObjectReader::unsignedInteger(const char* name) const {
    Element value = at(name);
    if (!isNonNegativeInteger(value))
        place(name).reject(std::string("expected integer >= 0, got ") +
                           (isInteger(value) ? shown(value) : typeName(value)));
    return value.get_uint64().value_unsafe();
}

simdjson::dom::array ObjectReader::array(const char* name) const {
    Element value = at(name);
    if (!value.is_array()) place(name).reject(std::string("expected array, got ") + typeName(value));
    return value.get_array().value_unsafe();
}

// NAME is one of the fields given to the constructor, most often the very same literal.
size_t ObjectReader::indexOf(const char* name) const {
    for (size_t i = 0; i < count_; ++i)
        if (names_[i] == name) return i;
    for (size_t i = 0; i < count_; ++i)
        if (std::strcmp(names_[i], name) == 0) return i;
    throwFailure(std::string("JSON reader: no field \"") + name + "\" was declared");
}

size_t elementCount(simdjson::dom::array array) {
    size_t size = array.size();
    if (size < 0xFFFFFF) return size;
    size = 0;
    for (Element element : array) {
        (void)element;
        ++size;
    }
    return size;
}

Element parseDocument(simdjson::dom::parser& parser, std::string_view text, size_t spare) {
    Element document;
    if (simdjson::error_code code =
            parser.parse(text.data(), text.size(), spare < simdjson::SIMDJSON_PADDING).get(document))
        throwBadInput("malformed JSON: " + whyMalformed(text, code));
    return document;
}

}  // namespace lockcr::jsonread
