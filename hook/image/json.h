// The lock image on disk: JSON described by schema/lock-image.schema.json ("$id" is
// kLockImageSchemaId). Reading is strict: every field is type-checked, unknown fields are refused,
// counts and references are cross-checked, and each failure names where it is, e.g.
// "processes[2].fds[0].locks[1].end: expected integer or \"EOF\"".
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "image/model.h"

namespace lockcr {

class PhaseClock;

// Throws Error (failure) if the image cannot be written faithfully: a path that is not valid
// UTF-8, an unknown signal owner type. Commands (comm) are informational: bytes that are not
// UTF-8 (comm is cut at 15 bytes, possibly inside a character) become U+FFFD.
std::string lockImageToText(const LockImage& image);     // compact JSON text, streamed
// The same text in pieces formatted on the workers, to be written one after the other.
std::vector<std::string> lockImageToPieces(const LockImage& image);
nlohmann::json lockImageToJson(const LockImage& image);  // the same, parsed (for tests and tools)

// Throws Error(badInput) naming the first violation. Beyond types and ranges it checks that each
// "lock_count" equals its "locks" length, description ids are unique and equal their index, every
// fd's description exists, POSIX locks sit under fds and the other kinds under descriptions,
// leases (only) have a lease_state, and pids and fds are not recorded twice.
LockImage lockImageFromText(std::string_view text);
LockImage lockImageFromJson(const nlohmann::json& document);  // through its text (for tests)

// Refuses files over 256 MiB and anything but regular files; malformed JSON and violations throw
// Error(badInput) naming the file. Open and read failures throw Error with errno.
LockImage readLockImage(const std::string& path);
// The same, keeping the file's text in TEXT: a reader that validates an image and passes it on
// copies these bytes instead of writing the image again.
LockImage readLockImage(const std::string& path, std::string& text);

// Atomic: the image goes to a new 0600 file beside `path` (O_EXCL), is fsynced and renamed over
// `path`, then the directory is fsynced. On failure the temporary file is removed and `path` is
// untouched.
// With a clock (lockcr -v dump), laps "image text made", "image written" and "image fsynced".
void writeLockImage(const std::string& path, const LockImage& image, PhaseClock* clock = nullptr);

}  // namespace lockcr
