// libarchive, loaded by the one command that reads archives (lockcr show), not at every start:
// libarchive.so pulls in libxml2 and ICU, and every CRIU action (each stage, twice with CRIU 4.1)
// would pay for loading and binding them. The functions are looked up once, on first use; a
// missing library is one Error naming it (lockcr-static, which cannot dlopen, reads image
// directories only).
#pragma once

#include <archive.h>
#include <archive_entry.h>

namespace lockcr {

struct LibArchive {
    decltype(&::archive_read_new) readNew;
    decltype(&::archive_read_free) readFree;
    decltype(&::archive_read_support_filter_all) supportFilterAll;
    decltype(&::archive_read_support_format_tar) supportFormatTar;
    decltype(&::archive_read_support_format_gnutar) supportFormatGnutar;
    decltype(&::archive_read_open_filename) openFilename;
    decltype(&::archive_read_next_header) nextHeader;
    decltype(&::archive_read_data) readData;
    decltype(&::archive_error_string) errorString;
    decltype(&::archive_filter_count) filterCount;
    decltype(&::archive_filter_code) filterCode;
    decltype(&::archive_filter_name) filterName;
    decltype(&::archive_entry_pathname) entryPathname;
    decltype(&::archive_entry_filetype) entryFiletype;
    decltype(&::archive_entry_size) entrySize;
    decltype(&::archive_entry_size_is_set) entrySizeIsSet;
};

// Throws Error if libarchive.so.13 or one of these functions cannot be found.
const LibArchive& libArchive();

}  // namespace lockcr
