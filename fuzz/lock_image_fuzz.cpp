// The lock image reader (hook/image/json_reader.cpp), the file an untrusted checkpoint carries.
// Property: an image it accepts is written back and read again to the same text.
#include "fuzz_common.h"
#include "image/json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace lockcr;
    fuzz::expectOnlyLockcrErrors([&] {
        LockImage image = lockImageFromText(fuzz::textOf(data, size));
        std::string written = lockImageToText(image);
        std::string again = lockImageToText(lockImageFromText(written));
        fuzz::require(written == again, "lock image: write(read(write(image))) == write(image)");
    });
    return 0;
}
