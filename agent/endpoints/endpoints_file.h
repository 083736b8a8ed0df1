// Keeps an endpoint list in step with a file (see endpoints_parser.h for its format).
#pragma once

#include "endpoints/directory_watch.h"
#include "endpoints/endpoints_error.h"
#include "steering/endpoint.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <thread>

namespace wsteer::endpoints {

// Reads the file once in start(), then re-reads it on its own thread whenever its directory
// changes. on_change sees each new list once: not a re-read that left the list as it was (a comment
// edit, a change to another file), nor a malformed file, which logs one warning naming the line and
// keeps the last good list. on_change runs on the thread calling start() for the first list and on
// the watcher's thread afterwards, never on both at once; it must not throw (on the watcher's
// thread that would end the process).
class EndpointsFileWatcher {
 public:
  using Callback = std::function<void(const steering::EndpointList&)>;

  // debounce: how long the directory must stay quiet before the file is re-read, so that a
  // burst of events (truncate, write, rename, several files of a ConfigMap) gives one reload.
  EndpointsFileWatcher(std::filesystem::path path, Callback on_change,
                       std::chrono::milliseconds debounce = std::chrono::milliseconds(75));
  ~EndpointsFileWatcher();  // stop()

  EndpointsFileWatcher(const EndpointsFileWatcher&) = delete;
  EndpointsFileWatcher& operator=(const EndpointsFileWatcher&) = delete;

  // Call once. Starts watching the file's directory, then reads the file: a good list goes to
  // on_change before this returns; an unreadable or malformed file is the error returned (no
  // call). Watching goes on either way, so a later good version is picked up. Fails without
  // watching when the directory cannot be watched. `.value()` turns the error into an exception.
  [[nodiscard]] Result<void> start();

  // Stops and joins the watcher's thread. Idempotent; not to be called from on_change.
  void stop();

  // Reads of changed content, the first read included: parsed, and unreadable or malformed.
  std::uint64_t reloads_ok() const { return reloads_ok_.load(std::memory_order_relaxed); }
  std::uint64_t reload_errors() const { return reload_errors_.load(std::memory_order_relaxed); }

 private:
  // Reads the file and, when it parses into a list other than the last, calls on_change. The
  // error is the file's new problem; a file whose bytes (or read error) did not change since the
  // last read is not looked at again, so one problem is reported once.
  Result<void> reload();
  void run();

  const std::filesystem::path path_;
  const Callback on_change_;
  const std::chrono::milliseconds debounce_;
  std::optional<DirectoryWatch> watch_;
  std::thread thread_;

  // Used by start() and then only by the watcher's thread.
  std::optional<Result<std::string>> last_read_;
  std::optional<steering::EndpointList> last_good_;

  std::atomic<std::uint64_t> reloads_ok_{0};
  std::atomic<std::uint64_t> reload_errors_{0};
};

}  // namespace wsteer::endpoints
