// /proc/TID/syscall lines as this kernel prints them (fs/proc/base.c proc_pid_syscall).
#include <doctest/doctest.h>

#include "collect/waiters.h"

using namespace lockcr;

TEST_CASE("a task blocked in fcntl: the number and six arguments") {
    auto line = parseSyscallLine("72 0x3 0x7 0x7ffd5b0e2f10 0x0 0x0 0x0 0x7ffd5b0e2ee8 0x4a1f3b\n");
    REQUIRE(line);
    CHECK(line->number == 72);
    CHECK(line->arguments[0] == 3);
    CHECK(line->arguments[1] == 7);
    CHECK(line->arguments[2] == 0x7ffd5b0e2f10);
}

TEST_CASE("a task stopped outside a syscall: -1, and where it stands") {
    auto line = parseSyscallLine("-1 0x7ffd5b0e2ee8 0x4a1f39\n");
    REQUIRE(line);
    CHECK(line->number == -1);
    CHECK(line->instructionPointer == 0x4a1f39);
}

TEST_CASE("a running task") {
    auto line = parseSyscallLine("running\n");
    REQUIRE(line);
    CHECK(line->number == -1);
    CHECK(line->instructionPointer == 0);
}

TEST_CASE("malformed lines are refused") {
    CHECK_FALSE(parseSyscallLine(""));
    CHECK_FALSE(parseSyscallLine("x72 0x3"));
    CHECK_FALSE(parseSyscallLine("72 0x3 0x7"));         // fewer than six arguments
    CHECK_FALSE(parseSyscallLine("-1 0x7ffd5b0e2ee8"));  // no pc
    CHECK_FALSE(parseSyscallLine("-1 zz 0x1"));
}
