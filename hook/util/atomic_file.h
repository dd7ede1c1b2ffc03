// Files that are either wholly written or not there: lock images, the checkpoint's lockcr record,
// registrations. A reader never sees half a file, and a failure leaves the old file untouched.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace lockcr {

class PhaseClock;

// The text goes to a new 0600 file beside `path` (mkostemp), is fsynced and renamed over `path`,
// then the directory is fsynced. On failure the temporary file is removed and `path` is untouched.
// With a clock, laps "image written" (created and written) and "image fsynced" (the rest).
void writeFileAtomically(const std::string& path, std::string_view text, PhaseClock* clock = nullptr);
// The same for a text made in pieces (a lock image formatted on the workers): their concatenation.
void writeFileAtomically(const std::string& path, const std::vector<std::string>& pieces, PhaseClock* clock = nullptr);

// The directory part of a path ("." for a bare name).
std::string directoryOf(const std::string& path);

}  // namespace lockcr
