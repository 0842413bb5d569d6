// The status page served at GET /: status_page.html, built into the library.
#pragma once

#include <string_view>

namespace signpost::registry::api {

/// The bytes of registry/api/status_page.html as they were at build time (the build turns
/// the file into status_page_data.cpp). Any thread; no allocation.
std::string_view status_page_html() noexcept;

}  // namespace signpost::registry::api
