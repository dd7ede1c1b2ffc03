#include "archive/libarchive.h"

#include <dlfcn.h>

#include <string>

#include "util/error.h"

namespace lockcr {

namespace {

constexpr const char* kLibrary = "libarchive.so.13";

template <typename Function>
void bind(void* library, Function& slot, const char* name) {
    void* symbol = ::dlsym(library, name);
    if (!symbol) throwFailure(std::string(kLibrary) + ": no " + name);
    slot = reinterpret_cast<Function>(symbol);
}

LibArchive load() {
    void* library = ::dlopen(kLibrary, RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        const char* why = ::dlerror();
        throwFailure(std::string("reading checkpoint archives needs ") + kLibrary +
                     " (Debian: libarchive13): " + (why ? why : "not found"));
    }
    LibArchive functions{};
    bind(library, functions.readNew, "archive_read_new");
    bind(library, functions.readFree, "archive_read_free");
    bind(library, functions.supportFilterAll, "archive_read_support_filter_all");
    bind(library, functions.supportFormatTar, "archive_read_support_format_tar");
    bind(library, functions.supportFormatGnutar, "archive_read_support_format_gnutar");
    bind(library, functions.openFilename, "archive_read_open_filename");
    bind(library, functions.nextHeader, "archive_read_next_header");
    bind(library, functions.readData, "archive_read_data");
    bind(library, functions.errorString, "archive_error_string");
    bind(library, functions.filterCount, "archive_filter_count");
    bind(library, functions.filterCode, "archive_filter_code");
    bind(library, functions.filterName, "archive_filter_name");
    bind(library, functions.entryPathname, "archive_entry_pathname");
    bind(library, functions.entryFiletype, "archive_entry_filetype");
    bind(library, functions.entrySize, "archive_entry_size");
    bind(library, functions.entrySizeIsSet, "archive_entry_size_is_set");
    return functions;  // the library stays loaded for the life of the process
}

}  // namespace

const LibArchive& libArchive() {
    static const LibArchive functions = load();
    return functions;
}

}  // namespace lockcr
