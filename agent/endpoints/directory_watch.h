// Wakes a thread when entries of one directory change, coalescing bursts of changes.
//
// Watching the directory rather than the file is what catches replacements: an editor's
// write-to-temp-then-rename and Kubernetes' ConfigMap update (a rename of the `..data` symlink)
// both leave a watch on the old file pointing at an inode nobody reads any more.
#pragma once

#include "core/unique_fd.h"

#include <boost/system/result.hpp>

#include <chrono>
#include <filesystem>

namespace wsteer::endpoints {

class DirectoryWatch {
 public:
  // Error when the directory cannot be watched (missing, not a directory, no permission).
  static boost::system::result<DirectoryWatch> open(const std::filesystem::path& directory);

  enum class Wake { changed, stopped };

  // Blocks until an entry changed and the directory then stayed quiet for `quiet` (but no longer
  // than a second after the first change, so a busy directory cannot hold reloads back forever),
  // or until stop(). Returns stopped on every call after stop().
  Wake wait(std::chrono::milliseconds quiet);

  // Thread-safe; may be called from any thread, any number of times.
  void stop();

 private:
  DirectoryWatch(UniqueFd inotify, UniqueFd stop_event);

  // Readiness of the two descriptors after at most timeout_ms (-1: no limit).
  struct Ready {
    bool changed = false;
    bool stopped = false;
  };
  Ready poll(int timeout_ms) const;
  void drain_events() const;

  UniqueFd inotify_;
  UniqueFd stop_event_;  // an eventfd: level-triggered once written, so stop() is sticky
};

}  // namespace wsteer::endpoints
