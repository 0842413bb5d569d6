// signpost-agent as a process: configuration file, signals, the io loop.
#pragma once

#include <string>

namespace signpost::health::agent {

/// Loads `config_path`, runs the agent until SIGTERM or SIGINT (which deregister every
/// instance first; a second one stops at once) and reloads the file on SIGHUP (a file that
/// does not load is logged and the running configuration kept). Returns the exit status.
/// Main thread; the whole agent runs on it.
int run_agent(const std::string& config_path);

}  // namespace signpost::health::agent
