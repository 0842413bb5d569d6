# Writes a C++ source holding a file's bytes, so that the status page is built into the
# library and the HTML file stays its one source. Run with cmake -P and
# -DINPUT=<file> -DOUTPUT=<.cpp> -DHEADER=<header declaring the function>
# -DFUNCTION=<qualified name of that std::string_view function>.
file(READ ${INPUT} bytes HEX)
string(LENGTH "${bytes}" hex_length)
math(EXPR length "${hex_length} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${bytes}")
string(REGEX REPLACE "(('[^']*',){16})" "\\1\n  " bytes "${bytes}")
file(WRITE ${OUTPUT}.tmp "// Generated from ${INPUT} at build time; edit that file, not this one.
#include \"${HEADER}\"

#include <string_view>

namespace {
constexpr char kBytes[${length} + 1] = {
  ${bytes}0};
}  // namespace

std::string_view ${FUNCTION}() noexcept { return {kBytes, ${length}}; }
")
file(COPY_FILE ${OUTPUT}.tmp ${OUTPUT} ONLY_IF_DIFFERENT)
